//! Recognising obvious junk among inquiries: bots, job applicants, vendors soliciting us.
//!
//! Junk is never dropped: it is stored with stage `disqualified` and the reason, so that
//! a wrong verdict can be seen and undone. The patterns are therefore deliberately
//! conservative: a missed spam costs a click, a wrongly binned buyer costs a deal.

use crate::Inquiry;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct JunkReason {
    /// `honeypot`, `bot`, `job_application` or `vendor_solicitation`.
    pub code: &'static str,
    /// What gave it away, for the person reviewing it.
    pub evidence: String,
}

impl JunkReason {
    /// `code: evidence`, as recorded in the stage history.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.code, self.evidence)
    }
}

const BOT_AGENTS: &[&str] = &["bot", "crawler", "spider", "slurp", "scrapy", "httrack"];

const JOB_PHRASES: &[&str] = &[
    "job application",
    "applying for the",
    "apply for the position",
    "apply for a job",
    "my resume",
    "my résumé",
    "my cv",
    "curriculum vitae",
    "internship",
    "job opening",
    "looking for a job",
    "looking for employment",
    "vacancy",
    "career opportunit",
];

const VENDOR_PHRASES: &[&str] = &[
    "seo services",
    "seo service",
    "rank your website",
    "first page of google",
    "web design services",
    "website redesign services",
    "link building",
    "guest post",
    "increase your traffic",
    "lead generation services",
    "offshore development",
    "outsourcing services",
    "we can help you get more leads",
    "buy backlinks",
    "app development services",
    "dedicated developers",
];

/// Looks for junk in an inquiry; `user_agent` is the HTTP client's, when known.
pub fn classify(inquiry: &Inquiry, user_agent: Option<&str>) -> Option<JunkReason> {
    if inquiry.honeypot_filled {
        return Some(JunkReason { code: "honeypot", evidence: "the hidden honeypot field was filled".into() });
    }
    if let Some(ua) = user_agent.map(str::to_ascii_lowercase)
        && let Some(p) = BOT_AGENTS.iter().find(|p| ua.contains(*p))
    {
        return Some(JunkReason { code: "bot", evidence: format!("user agent contains \"{p}\"") });
    }
    let names = [&inquiry.first_name, &inquiry.last_name, &inquiry.company, &inquiry.title];
    if names.iter().filter_map(|n| n.as_deref()).any(looks_like_link) {
        return Some(JunkReason { code: "bot", evidence: "a name field contains a link".into() });
    }
    let message = inquiry.message.as_deref().unwrap_or("").to_lowercase();
    let links = message.matches("http://").count() + message.matches("https://").count();
    if links >= 3 {
        return Some(JunkReason { code: "bot", evidence: format!("the message contains {links} links") });
    }
    let text = format!("{message} {}", inquiry.title.as_deref().unwrap_or("").to_lowercase());
    if let Some(p) = JOB_PHRASES.iter().find(|p| text.contains(*p)) {
        return Some(JunkReason { code: "job_application", evidence: format!("mentions \"{p}\"") });
    }
    if let Some(p) = VENDOR_PHRASES.iter().find(|p| message.contains(*p)) {
        return Some(JunkReason { code: "vendor_solicitation", evidence: format!("mentions \"{p}\"") });
    }
    None
}

fn looks_like_link(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    s.contains("http://") || s.contains("https://") || s.contains("www.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Email;

    fn inquiry(message: &str) -> Inquiry {
        Inquiry::new(Email::parse("ann@acme.com").unwrap()).with_message(message)
    }

    #[test]
    fn genuine_inquiries_pass() {
        for m in [
            "We need a quote for 40 seats, budget approved for Q3.",
            "Can you integrate with our CRM? See https://acme.com/spec",
            "",
        ] {
            assert_eq!(classify(&inquiry(m), Some("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156")), None, "{m}");
        }
    }

    #[test]
    fn junk_is_recognised_with_its_evidence() {
        let cases = [
            ("Please find my resume attached, I am applying for the sales role", "job_application"),
            ("We offer SEO services to get you on the first page of Google", "vendor_solicitation"),
            ("cheap http://a.x http://b.x https://c.x", "bot"),
        ];
        for (m, code) in cases {
            assert_eq!(classify(&inquiry(m), None).map(|r| r.code), Some(code), "{m}");
        }
        assert_eq!(classify(&inquiry("hi"), Some("Googlebot/2.1")).unwrap().code, "bot");
        let mut hp = inquiry("hi");
        hp.honeypot_filled = true;
        assert_eq!(classify(&hp, None).unwrap().code, "honeypot");
    }
}
