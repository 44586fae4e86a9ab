//! `duplex devices`: lists the sound card's devices with the formats each offers, and which
//! ones `duplex talk` would use by default.

use duplex::transport::desktop::device::list_devices;

/// Arguments of `duplex devices` (none).
#[derive(clap::Args)]
pub struct DevicesArgs {}

/// Runs the subcommand.
pub fn run(_args: DevicesArgs) -> anyhow::Result<()> {
    let devices = list_devices()?;
    if devices.is_empty() {
        println!("no audio devices found (is a sound server running, or an ALSA card present?)");
    }
    for d in devices {
        let mut marks = Vec::new();
        if d.default_input {
            marks.push("default input");
        }
        if d.default_output {
            marks.push("default output");
        }
        let marks = if marks.is_empty() {
            String::new()
        } else {
            format!("  [{}]", marks.join(", "))
        };
        println!("{}: {}{marks}", d.id, d.name);
        for f in &d.inputs {
            println!("    input:  {f}");
        }
        for f in &d.outputs {
            println!("    output: {f}");
        }
    }
    Ok(())
}
