#cloud-config
hostname: ${hostname}
users:
%{ for u in users ~}
  - name: ${u}
%{ endfor ~}
