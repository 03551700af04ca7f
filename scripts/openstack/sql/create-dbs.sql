-- Databases and the `openstack` user of kiln's test OpenStack (scripts/openstack.sh start runs
-- this as MariaDB's root over the state dir's unix socket; idempotent).
CREATE DATABASE IF NOT EXISTS keystone;
CREATE DATABASE IF NOT EXISTS glance;
CREATE DATABASE IF NOT EXISTS placement;
CREATE DATABASE IF NOT EXISTS nova_api;
CREATE DATABASE IF NOT EXISTS nova;
CREATE DATABASE IF NOT EXISTS nova_cell0;
CREATE DATABASE IF NOT EXISTS neutron;
CREATE DATABASE IF NOT EXISTS cinder;
CREATE USER IF NOT EXISTS 'openstack'@'localhost' IDENTIFIED BY 'secret';
GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'localhost';
FLUSH PRIVILEGES;
