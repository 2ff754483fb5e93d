//! seccomp for berth: Docker-format profiles ([`profile`]), resolved into the OCI runtime-spec form
//! ([`oci_spec::runtime::LinuxSeccomp`]) for a container's capabilities and architecture, compiled
//! to classic BPF by a pure-Rust compiler ([`bpf`]) and installed with seccomp(2) ([`install`]).
