//! Server-rendered pages for people: today the landing page of signed acknowledgement links (`ack`).
//! Pages work without JavaScript; every value is HTML-escaped ([`escape`]).

pub mod ack;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// A whole HTML document: a title, and a body already escaped.
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.4}}\
         button{{font-size:1.1rem;padding:.5rem 1rem;margin-right:.5rem}}dt{{font-weight:bold}}</style>\
         </head><body>\n{body}\n</body></html>\n",
        escape(title)
    )
}
