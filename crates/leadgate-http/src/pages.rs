//! The few HTML pages leadgate serves: what a browser sees after posting a plain HTML
//! form. Every value shown goes through [`escape`].

use crate::error::ApiError;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML; every value shown on a page goes through this.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}</style>
</head><body>
{body}
</body></html>"#,
        title = escape(title)
    )
}

/// The page a browser sees after posting a form that has no thank-you URL: the same
/// whoever posted, whatever became of it.
pub fn thank_you() -> Response {
    let html = page(
        "Thank you",
        "<h1>Thank you</h1>\n<p>We have received your message.</p>\n\
         <p><a href=\"javascript:history.back()\">Back to the page you came from</a></p>",
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// The page a browser sees when its form post was refused, with the error's status.
pub fn refused(e: ApiError) -> Response {
    let what = e.0.message.clone();
    // The JSON answer is made (and a fault logged) as for any error; the page takes its
    // status and headers.
    let json = e.into_response();
    let status = json.status();
    let retry = json.headers().get(header::RETRY_AFTER).cloned();
    let message = match status.as_u16() {
        400 | 415 | 422 => format!("The form could not be sent: {what}."),
        413 => "The form sent more than we can take.".to_owned(),
        429 => "Too many messages were sent from your address. Please try again in a minute.".to_owned(),
        s if s >= 500 => "Something went wrong on our side. Please try again shortly.".to_owned(),
        _ => "The form could not be sent. Please check what you entered and try again.".to_owned(),
    };
    let html = page(
        "Not sent",
        &format!(
            "<h1>Not sent</h1>\n<p>{}</p>\n<p><a href=\"javascript:history.back()\">Back to the form</a></p>",
            escape(&message)
        ),
    );
    let mut resp = (status, Html(html)).into_response();
    if let Some(retry) = retry {
        resp.headers_mut().insert(header::RETRY_AFTER, retry);
    }
    resp
}
