# The namespace setup of the FAKE cloud APIs (`alicloud_namespace_up`,
# `fake_namespace_up`, ...) moved to fakes/shared/namespace.inc.sh, which
# this sources, for scripts that still source it here.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../shared/namespace.inc.sh"
