# Follows a public CI image repo's docker.pkr.hcl with a custom run_command.

source "docker" "systemd" {
  image      = "debian:bookworm"
  commit     = true
  privileged = true
  ssh_pty    = true
  run_command = [
    "-d", "-i", "-t",
    "--cpus", "2",
    "--memory", "2g",
    "--cgroupns", "host",
    "--security-opt", "seccomp=unconfined",
    "--tmpfs", "/run",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--entrypoint=/bin/sh",
    "{{.Image}}",
  ]
  volumes = {
    "/tmp/cache" = "/cache"
  }
}

build {
  sources = ["source.docker.systemd"]
}
