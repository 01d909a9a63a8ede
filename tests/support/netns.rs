//! Several hosts on one machine: Linux network namespaces, each with its own address on a
//! private bridge, for tests of a cluster across hosts.
//!
//! [`Hosts::new`] makes a bridge in the root namespace and, per host, a namespace joined to
//! the bridge by a veth pair, with the address `10.77.0.N/24` (N from 1 in the order named),
//! loopback up, and a default route through the bridge (so "the address on the default
//! route" means something, as on a real host). Names are unique per test run (the process
//! id and a counter), so tests in parallel, and runs of other worktrees, never meet: every
//! set of hosts has its own bridge, hence its own L2 network, and the same subnet in each is
//! no conflict. Everything is removed on drop, even when a test fails: processes still in the
//! namespaces are killed, then the namespaces (and their veth ends), the host-side links and
//! the bridge are deleted.
//!
//! Needs root (CAP_NET_ADMIN) and the `ip` command; [`Hosts::new`] returns the reason when
//! either is missing, for the test to print and skip.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::Proc;

/// One host: a namespace, its address, and the host-side end of its link to the bridge.
pub struct Host {
    /// The name the test gave it.
    pub name: String,
    /// The namespace (`ip netns exec NS …`).
    pub ns: String,
    /// Its address on the bridge.
    pub ip: Ipv4Addr,
    /// The host-side veth: down, the host is cut off without a reset.
    link: String,
}

/// Hosts joined by one bridge; removed on drop.
pub struct Hosts {
    bridge: String,
    hosts: Vec<Host>,
}

/// Runs `ip ARGS`; the error carries its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Hosts {
    /// Hosts named `names` (10.77.0.1, .2, … in order), or why they cannot be made here.
    pub fn new(names: &[&str]) -> Result<Hosts, String> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root: network namespaces need CAP_NET_ADMIN".into());
        }
        static RUNS: AtomicU32 = AtomicU32::new(0);
        // Interface names have at most 15 bytes: "t" + pid (≤ 6 hex) + run (1–2 hex) + role.
        let tag = format!(
            "t{:x}{:x}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        );
        let mut hosts = Hosts {
            bridge: format!("{tag}b"),
            hosts: Vec::new(),
        };
        // From here on, whatever was made is removed by drop if a step fails.
        ip(&["link", "add", &hosts.bridge, "type", "bridge"])?;
        ip(&["link", "set", &hosts.bridge, "up"])?;
        for (i, name) in names.iter().enumerate() {
            let host = Host {
                name: name.to_string(),
                ns: format!("{tag}-{name}"),
                ip: Ipv4Addr::new(10, 77, 0, i as u8 + 1),
                link: format!("{tag}h{i}"),
            };
            let inside = format!("{tag}n{i}");
            ip(&["netns", "add", &host.ns])?;
            hosts.hosts.push(host);
            let host = hosts.hosts.last().expect("just pushed");
            ip(&[
                "link", "add", &host.link, "type", "veth", "peer", "name", &inside,
            ])?;
            ip(&["link", "set", &inside, "netns", &host.ns])?;
            ip(&["link", "set", &host.link, "master", &hosts.bridge])?;
            ip(&["link", "set", &host.link, "up"])?;
            let cidr = format!("{}/24", host.ip);
            let ns = host.ns.as_str();
            ip(&["-n", ns, "addr", "add", &cidr, "dev", &inside])?;
            ip(&["-n", ns, "link", "set", &inside, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "route", "add", "default", "dev", &inside])?;
        }
        Ok(hosts)
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name}"))
    }

    /// Starts `program ARGS` on host `host` (its logs tagged `tag`), with `env` added.
    pub fn start(
        &self,
        host: &str,
        program: &Path,
        tag: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Proc {
        let ns = &self.host(host).ns;
        let program = program.to_str().expect("a UTF-8 path");
        let mut full = vec!["netns", "exec", ns.as_str(), program];
        full.extend_from_slice(args);
        Proc::start_with_env(Path::new("ip"), tag, &full, env)
    }

    /// Cuts `host` off: its link to the bridge goes down. Nothing is sent to anyone (no
    /// reset, no FIN): to the others the host is silent, as after a power loss.
    pub fn cut(&self, host: &str) {
        ip(&["link", "set", &self.host(host).link, "down"]).expect("link down");
    }

    /// Reconnects `host` after [`Hosts::cut`].
    pub fn heal(&self, host: &str) {
        ip(&["link", "set", &self.host(host).link, "up"]).expect("link up");
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in &self.hosts {
            // Processes a failed test left behind: ours, by the pids the namespace holds.
            if let Ok(out) = Command::new("ip")
                .args(["netns", "pids", &host.ns])
                .output()
            {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
            }
            let _ = ip(&["netns", "del", &host.ns]);
            let _ = ip(&["link", "del", &host.link]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}
