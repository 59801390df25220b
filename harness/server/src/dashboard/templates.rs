//! The pages: one askama template (`harness/server/templates/dashboard/`) per struct,
//! holding the view models of `views.rs`.

use askama::Template;

use super::views::{
    EventGroupView, Layout, LogFilter, LogPager, LogRow, Notice, Pager, TestResult, TypeGroup,
    WebhookForm, WebhookRow, WebhookSummary,
};

/// An error page.
#[derive(Template)]
#[template(path = "dashboard/error.html")]
pub struct ErrorPage {
    /// The frame.
    pub layout: Layout,
    /// The HTTP status.
    pub status: u16,
    /// The heading.
    pub heading: &'static str,
    /// What happened and what to do.
    pub message: String,
    /// Offer the sign-in page.
    pub sign_in: bool,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "dashboard/sign_in.html")]
pub struct SignInPage {
    /// The frame.
    pub layout: Layout,
    /// A banner (signed out).
    pub notice: Option<Notice>,
    /// Why signing in failed.
    pub error: Option<String>,
}

/// The webhook list.
#[derive(Template)]
#[template(path = "dashboard/list.html")]
pub struct ListPage {
    /// The frame.
    pub layout: Layout,
    /// A banner.
    pub notice: Option<Notice>,
    /// The rows of this page.
    pub rows: Vec<WebhookRow>,
    /// Paging.
    pub pager: Pager,
}

/// Add Webhook and Edit.
#[derive(Template)]
#[template(path = "dashboard/webhook_form.html")]
pub struct FormPage {
    /// The frame.
    pub layout: Layout,
    /// "Add webhook" or "Edit webhook".
    pub heading: &'static str,
    /// Where the form posts.
    pub action: String,
    /// The submit button.
    pub submit_label: &'static str,
    /// Where Cancel goes.
    pub cancel_href: String,
    /// The webhook being edited (none when adding).
    pub webhook: Option<WebhookSummary>,
    /// The fields.
    pub form: WebhookForm,
}

/// The page that shows a new or rotated secret, once.
#[derive(Template)]
#[template(path = "dashboard/secret.html")]
pub struct SecretPage {
    /// The frame.
    pub layout: Layout,
    /// "Webhook created" or "Secret rotated".
    pub heading: &'static str,
    /// The webhook.
    pub webhook: WebhookSummary,
    /// `whsec_…`; `None` for a `standard-v1a` webhook, whose page shows its public key.
    pub secret: Option<String>,
    /// After a rotation: until when the previous secret still signs (v2).
    pub previous_until: Option<String>,
}

/// A webhook's page: details, actions and delivery logs.
#[derive(Template)]
#[template(path = "dashboard/webhook.html")]
pub struct WebhookPage {
    /// The frame.
    pub layout: Layout,
    /// A banner.
    pub notice: Option<Notice>,
    /// The webhook.
    pub webhook: WebhookSummary,
    /// The groups its events fall in, for the summary.
    pub groups: Vec<EventGroupView>,
    /// This page of its logs.
    pub logs: Vec<LogRow>,
    /// The filter applied.
    pub filter: LogFilter,
    /// Paging.
    pub pager: LogPager,
}

/// "Delete this webhook?"
#[derive(Template)]
#[template(path = "dashboard/delete.html")]
pub struct DeletePage {
    /// The frame.
    pub layout: Layout,
    /// The webhook.
    pub webhook: WebhookSummary,
}

/// Send Test: the form and, after sending, the result.
#[derive(Template)]
#[template(path = "dashboard/test.html")]
pub struct TestPage {
    /// The frame.
    pub layout: Layout,
    /// The webhook.
    pub webhook: WebhookSummary,
    /// The event type picker.
    pub types: Vec<TypeGroup>,
    /// What is wrong with the choice.
    pub error: Option<String>,
    /// The delivery, once sent.
    pub result: Option<TestResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show() {
        let page = ErrorPage {
            layout: Layout::anonymous("Oops"),
            status: 400,
            heading: "That did not work",
            message: "<script>alert(1)</script>".into(),
            sign_in: false,
        };
        let html = page.render().unwrap();
        assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>alert"));
    }
}
