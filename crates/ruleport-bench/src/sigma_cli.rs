//! sigma-cli (pySigma 1.5.1) in a private virtual environment, timed on the same rules.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The pinned pySigma 1.5.1-era toolchain research measured (sigma.md, "Material used").
pub(crate) const PACKAGES: [&str; 7] = [
    "pysigma==1.5.1",
    "sigma-cli==3.1.0",
    "pysigma-backend-splunk==2.1.0",
    "pysigma-backend-elasticsearch==2.1.1",
    "pysigma-backend-kusto==1.0.1",
    "pysigma-pipeline-sysmon==2.0.0",
    "pysigma-pipeline-windows==2.0.1",
];

/// sigma-cli targets with the pipelines research used (sigma.md §3.5), and ruleport's counterpart.
pub(crate) const TARGETS: [(&str, &str, &str); 4] = [
    ("splunk", "splunk_windows", "splunk"),
    ("kusto", "microsoft_xdr", "sentinel"),
    ("eql", "ecs_windows", "eql"),
    ("lucene", "ecs_windows", "kuery"),
];

/// Create the venv (if missing) and install the pinned packages from PyPI; returns the `sigma` path.
pub(crate) fn ensure_venv(venv: &Path) -> Result<PathBuf, String> {
    let sigma = venv.join("bin/sigma");
    let marker = venv.join(".ruleport-bench-packages");
    let wanted = PACKAGES.join("\n");
    if sigma.is_file() && std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(sigma);
    }
    if !venv.join("bin/python").is_file() {
        eprintln!("creating {} (python3 -m venv)", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    }
    eprintln!("installing {} into {}", PACKAGES.join(" "), venv.display());
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(PACKAGES))?;
    std::fs::write(&marker, wanted)
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(sigma)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// One timed `sigma convert` run: seconds, bytes of queries written, and whether it exited 0.
#[derive(Debug, Clone)]
pub(crate) struct CliRun {
    pub(crate) secs: f64,
    /// User + system CPU seconds of the `sigma` process.
    pub(crate) cpu: Option<f64>,
    pub(crate) output_bytes: usize,
    pub(crate) ok: bool,
    /// The driver's "converted N failed M" line.
    pub(crate) summary: Option<String>,
}

/// `sigma convert -t <target> -p <pipeline> --skip-unsupported <dirs>`, output captured (not printed).
pub(crate) fn convert_once(
    sigma: &Path,
    target: &str,
    pipeline: &str,
    dirs: &[PathBuf],
) -> Result<CliRun, String> {
    let mut cmd = Command::new(sigma);
    cmd.args([
        "convert",
        "-t",
        target,
        "-p",
        pipeline,
        "--skip-unsupported",
        "--disable-pipeline-check",
    ])
    .args(dirs);
    timed(cmd)
}

/// The driver that does sigma-cli's conversion rule by rule (see the script's docstring), for a
/// target where sigma-cli aborts.
const PYSIGMA_DRIVER: &str = include_str!("../python/pysigma_convert.py");

/// One timed run of [`PYSIGMA_DRIVER`] with the venv's Python.
pub(crate) fn driver_once(
    venv: &Path,
    target: &str,
    pipeline: &str,
    dirs: &[PathBuf],
) -> Result<CliRun, String> {
    let script = venv.join("ruleport-pysigma-convert.py");
    if std::fs::read_to_string(&script).ok().as_deref() != Some(PYSIGMA_DRIVER) {
        std::fs::write(&script, PYSIGMA_DRIVER)
            .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    }
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.arg(&script).args([target, pipeline]).args(dirs);
    timed(cmd)
}

fn timed(mut cmd: Command) -> Result<CliRun, String> {
    let c0 = crate::stats::children_cpu_secs();
    let t = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    Ok(CliRun {
        secs,
        cpu: c0
            .zip(crate::stats::children_cpu_secs())
            .map(|(a, b)| b - a),
        output_bytes: out.stdout.len(),
        ok: out.status.success(),
        summary: String::from_utf8_lossy(&out.stderr)
            .lines()
            .rfind(|l| l.starts_with("converted "))
            .map(str::to_string),
    })
}
