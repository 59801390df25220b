//! Form bodies and query strings (`a=1&events=x&events=y`: repeated names kept, which
//! serde's urlencoded forms cannot do), and the event types grouped as the docs group them.

use menon_webhooks::{EventGroup, EventType};

/// The fields of a form body or query string, in order, repeated names kept.
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(bytes: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// Parses a query string (none is an empty form).
    pub fn from_query(query: Option<&str>) -> Self {
        query.map_or_else(Self::default, |q| Self::parse(q.as_bytes()))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first non-empty value of `name`.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }
}

/// A group's title, as the docs write it.
pub fn group_title(group: EventGroup) -> &'static str {
    match group {
        EventGroup::Listing => "Listing",
        EventGroup::Message => "Message",
        EventGroup::Inquiry => "Inquiry",
        EventGroup::Subscription => "Subscription",
        EventGroup::Payment => "Payment",
        EventGroup::User => "User",
        _ => "Other",
    }
}

/// The event types of `group`, in the docs' order.
pub fn group_events(group: EventGroup) -> impl Iterator<Item = EventType> {
    EventType::ALL
        .iter()
        .copied()
        .filter(move |e| e.group() == group)
}

/// Appends `name=value` pairs (skipping empty values) to `path` as a query string.
pub fn href(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in pairs {
        if !value.is_empty() {
            query.append_pair(name, value);
            any = true;
        }
    }
    if any {
        format!("{path}?{}", query.finish())
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_and_groups() {
        let form = Form::parse(
            b"url=https%3A%2F%2Fa.example%2Fh&events=listing.created&events=user.created&csrf=",
        );
        assert_eq!(form.get("url"), Some("https://a.example/h"));
        assert_eq!(form.all("events"), ["listing.created", "user.created"]);
        assert_eq!(form.non_empty("csrf"), None);
        assert_eq!(form.get("missing"), None);
        let total: usize = EventGroup::ALL
            .iter()
            .map(|g| group_events(*g).count())
            .sum();
        assert_eq!(total, 21);
        assert_eq!(group_events(EventGroup::Payment).count(), 4);
        assert_eq!(
            href("/x", &[("status", "failed"), ("cursor", "")]),
            "/x?status=failed"
        );
        assert_eq!(href("/x", &[("a", "")]), "/x");
        assert_eq!(href("/x", &[("t", "a b&c")]), "/x?t=a+b%26c");
    }
}
