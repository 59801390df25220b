//! `grade -- CMD ARGS`: starts the receiver under test on a free loopback port (its own
//! process group, with `PORT` and `MENON_WEBHOOK_SECRET`), waits until it listens, and
//! stops it (SIGTERM to the group, SIGKILL after a grace period) when grading is done.
//! Its output is kept (the last lines) to explain a receiver that died or never listened.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of the receiver's output kept.
const KEPT_LINES: usize = 200;

/// A receiver process the grader started.
pub struct Spawned {
    child: Child,
    /// The port it was told to listen on.
    pub port: u16,
    output: Arc<Mutex<VecDeque<String>>>,
    stopped: bool,
}

/// A port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

impl Spawned {
    /// Starts `command` with `PORT` and `MENON_WEBHOOK_SECRET` set.
    pub fn start(command: &[String], secret: &str) -> Result<Self, String> {
        let (program, args) = command.split_first().ok_or("nothing to run after `--`")?;
        let port = free_port()?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("PORT", port.to_string())
            .env("MENON_WEBHOOK_SECRET", secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", command.join(" ")))?;
        let output = Arc::new(Mutex::new(VecDeque::with_capacity(KEPT_LINES)));
        if let Some(out) = child.stdout.take() {
            keep_lines(out, Arc::clone(&output));
        }
        if let Some(err) = child.stderr.take() {
            keep_lines(err, Arc::clone(&output));
        }
        Ok(Self {
            child,
            port,
            output,
            stopped: false,
        })
    }

    /// Waits until the receiver accepts connections on its port, on 127.0.0.1 or [::1],
    /// and returns the base URL that answered (`http://127.0.0.1:PORT`).
    pub async fn wait_until_listening(&mut self, timeout: Duration) -> Result<String, String> {
        let started = Instant::now();
        loop {
            for (ip, base) in [
                (std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), "127.0.0.1"),
                (std::net::IpAddr::V6(Ipv6Addr::LOCALHOST), "[::1]"),
            ] {
                let addr = SocketAddr::new(ip, self.port);
                let attempt = tokio::time::timeout(
                    Duration::from_millis(200),
                    tokio::net::TcpStream::connect(addr),
                );
                if let Ok(Ok(_)) = attempt.await {
                    return Ok(format!("http://{base}:{}", self.port));
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the receiver exited ({status}) before listening on port {}{}",
                    self.port,
                    self.tail(20)
                ));
            }
            if started.elapsed() >= timeout {
                return Err(format!(
                    "the receiver did not listen on 127.0.0.1:{} (or [::1]) within {} s (it gets \
                     the port in $PORT){}",
                    self.port,
                    timeout.as_secs(),
                    self.tail(20)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last `n` lines of its output, as a block to append to a message.
    pub fn tail(&self, n: usize) -> String {
        let lines = match self.output.lock() {
            Ok(lines) => lines
                .iter()
                .rev()
                .take(n)
                .rev()
                .cloned()
                .collect::<Vec<_>>(),
            Err(_) => Vec::new(),
        };
        if lines.is_empty() {
            String::new()
        } else {
            format!(
                "\n--- receiver output (last {} lines) ---\n{}",
                lines.len(),
                lines.join("\n")
            )
        }
    }

    /// Stops the receiver and everything it started: SIGTERM to its process group, then,
    /// once the leader has exited or `grace` has passed, SIGKILL to whatever is left of the
    /// group (also when the leader had already exited and left children behind).
    pub fn stop(mut self, grace: Duration) {
        signal_group(&self.child, false);
        let started = Instant::now();
        while started.elapsed() < grace {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        signal_group(&self.child, true);
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stopped = true;
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        signal_group(&self.child, true);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
fn signal_group(child: &Child, kill: bool) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    let signal = if kill {
        Signal::SIGKILL
    } else {
        Signal::SIGTERM
    };
    let _ = killpg(Pid::from_raw(pid), signal);
}

#[cfg(not(unix))]
fn signal_group(_child: &Child, _kill: bool) {}

fn keep_lines(stream: impl Read + Send + 'static, sink: Arc<Mutex<VecDeque<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut lines) = sink.lock() {
                if lines.len() == KEPT_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        }
    });
}
