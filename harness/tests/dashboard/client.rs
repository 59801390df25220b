//! A small browser for tests: keeps the session cookie, does not follow redirects, and
//! posts forms with the headers a browser sends from a page of the same origin.

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::support::Server;

/// One answer.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The redirect target.
    pub fn location(&self) -> &str {
        self.header(LOCATION.as_str())
    }

    /// The session's form token, as the page's forms carry it.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no csrf field in:\n{}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("end of csrf value");
        self.body[start..start + end].to_owned()
    }

    /// The text of the first element carrying `data-testid="<id>"`, tags stripped.
    pub fn testid(&self, id: &str) -> Option<String> {
        let marker = format!("data-testid=\"{id}\"");
        let at = self.body.find(&marker)?;
        let open_end = at + self.body[at..].find('>')? + 1;
        // The element's text up to its closing tag (elements here do not nest their kind).
        let tag_start = self.body[..at].rfind('<')? + 1;
        let tag: String = self.body[tag_start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let close = format!("</{tag}>");
        let end = open_end + self.body[open_end..].find(&close)?;
        Some(strip_tags(&self.body[open_end..end]))
    }

    /// The `value` attribute of the element carrying `data-testid="<id>"` (an input).
    pub fn value_of(&self, id: &str) -> Option<String> {
        let marker = format!("data-testid=\"{id}\"");
        let at = self.body.find(&marker)?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag_end = at + self.body[at..].find('>')?;
        let tag = &self.body[tag_start..tag_end];
        let start = tag.find("value=\"")? + "value=\"".len();
        let end = start + tag[start..].find('"')?;
        Some(tag[start..end].to_owned())
    }

    /// Asserts the status, printing the page when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self
    }
}

/// Text without tags, whitespace collapsed, the few entities askama writes decoded.
pub fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A browser with at most one cookie: the dashboard's.
pub struct Browser {
    client: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
}

impl Browser {
    /// A browser with no session.
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            client,
            base: base.to_owned(),
            cookie: None,
        }
    }

    /// Signs in as `seller` with a token from `menon-harness token`.
    pub async fn signed_in(server: &Server, seller: &str) -> Self {
        let mut browser = Self::new(&server.url);
        let token = server.token(seller);
        let page = browser
            .post("/dashboard/sign-in", &[("token", &token)])
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location(), "/dashboard");
        browser.keep_cookie(&page);
        assert!(browser.cookie.is_some(), "no session cookie");
        browser
    }

    /// Takes the session cookie a response sets (or clears).
    pub fn keep_cookie(&mut self, page: &Page) {
        if let Some(set) = page.headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or("");
            self.cookie = match pair.split_once('=') {
                Some((_, "")) | None => None,
                Some(_) => Some(pair.to_owned()),
            };
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Page {
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request.send().await.expect("request");
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        }
    }

    /// `GET path`, as a navigation.
    pub async fn get(&self, path: &str) -> Page {
        self.get_with(path, &[]).await
    }

    /// `GET path` with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Posts a form from a page of this origin (`Origin`, `Sec-Fetch-Site: same-origin`).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let origin = self.base.clone();
        self.post_with(
            path,
            fields,
            &[("origin", &origin), ("sec-fetch-site", "same-origin")],
        )
        .await
    }

    /// Posts a form with exactly these extra headers.
    pub async fn post_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let body = url_encode(fields);
        let mut request = self.client.post(format!("{}{path}", self.base)).body(body);
        if !headers.iter().any(|(name, _)| *name == "content-type") {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }
}

fn url_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
