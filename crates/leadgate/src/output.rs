//! Where a command writes what it produces: standard output, or a file written beside
//! its target (`NAME.partial`) and renamed when whole, so that a failed or refused run
//! never leaves a file that looks whole, nor spoils one already there.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

pub(crate) struct Output<'p> {
    path: Option<&'p Path>,
    writer: Box<dyn Write>,
}

impl<'p> Output<'p> {
    pub(crate) fn open(path: Option<&'p Path>) -> Result<Self> {
        let writer: Box<dyn Write> = match path {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path.with_extension("partial"))
                    .with_context(|| format!("cannot write {}", path.display()))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        Ok(Self { path, writer })
    }

    pub(crate) fn writer(&mut self) -> &mut dyn Write {
        &mut self.writer
    }

    /// Flushes, and puts the file in place of its target. A reader of standard output
    /// that stopped early (`| head`) has seen what it wanted: not an error.
    pub(crate) fn finish(mut self) -> Result<()> {
        match self.writer.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
        drop(self.writer);
        if let Some(path) = self.path {
            std::fs::rename(path.with_extension("partial"), path)?;
        }
        Ok(())
    }

    /// Leaves nothing behind: the target stays as it was.
    pub(crate) fn discard(self) {
        drop(self.writer);
        if let Some(path) = self.path {
            let _ = std::fs::remove_file(path.with_extension("partial"));
        }
    }
}
