//! Progress bars of long commands.

/// A progress bar of `len` steps drawn by `template` (indicatif's template syntax).
pub(crate) fn progress_bar(len: u64, template: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    bar
}

/// A progress bar counting items (the second figure of `Progress::advance`).
pub(crate) struct Counter(pub(crate) indicatif::ProgressBar);

impl leadgate_app::import::Progress for Counter {
    fn advance(&self, _: u64, done: u64) {
        self.0.set_position(done);
    }
}

pub(crate) struct Bar(pub(crate) indicatif::ProgressBar);

impl leadgate_app::import::Progress for Bar {
    fn advance(&self, bytes: u64, rows: u64) {
        self.0.set_position(bytes);
        self.0.set_message(format!("{rows} rows"));
    }
}
