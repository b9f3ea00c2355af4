//! LEGACY: SOAP `login()` (partner API) with username + password + security token.
//!
//! Salesforce removed `login()` from API v65.0, disables it by default in orgs created from
//! Winter '26 and plans to retire it for older versions in Summer '27. It exists here only for
//! orgs that still use it and must be chosen explicitly; it yields no refresh token, so an
//! expired session means signing in again. Use the OAuth flows instead.

use std::time::SystemTime;

use http::{header, Method, Request};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::error::{Error, Result};
use crate::rest::{ApiVersion, Response};
use crate::tokens::{tokens_from_parts, Tokens};

/// The newest version whose partner endpoint still offers `login()` (v64.0).
pub const LAST_SOAP_LOGIN_VERSION: ApiVersion = ApiVersion {
    major: 64,
    minor: 0,
};

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// LEGACY. `POST {login}/services/Soap/u/{version}` with a `login` envelope. `password` is the
/// password immediately followed by the user's security token (unless the IP is trusted).
pub fn prepare_soap_login(
    login: &Url,
    version: ApiVersion,
    username: &str,
    password: &SecretString,
) -> Result<Request<Vec<u8>>> {
    if version > LAST_SOAP_LOGIN_VERSION {
        return Err(Error::InvalidInput {
            what: "API version",
            reason: format!("SOAP login() does not exist after v{LAST_SOAP_LOGIN_VERSION}"),
        });
    }
    let url = login
        .join(&format!("/services/Soap/u/{version}"))
        .map_err(|e| Error::InvalidInput {
            what: "login URL",
            reason: e.to_string(),
        })?;
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<env:Envelope xmlns:env=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:urn=\"urn:partner.soap.sforce.com\">\
<env:Body><urn:login><urn:username>{}</urn:username><urn:password>{}</urn:password></urn:login></env:Body>\
</env:Envelope>",
        xml_escape(username),
        xml_escape(password.expose_secret())
    );
    Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(header::CONTENT_TYPE, "text/xml; charset=UTF-8")
        .header("SOAPAction", "login")
        .body(body.into_bytes())
        .map_err(|e| Error::InvalidInput {
            what: "request",
            reason: e.to_string(),
        })
}

/// Text of the first element whose local name is `name` (any namespace prefix).
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let mut at = 0;
    while let Some(i) = xml[at..].find('<') {
        let start = at + i + 1;
        let end = start + xml[start..].find('>')?;
        let tag = &xml[start..end];
        at = end + 1;
        if tag.starts_with('/') || tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        let qname = tag.split_whitespace().next().unwrap_or("");
        let local = qname.rsplit(':').next().unwrap_or(qname);
        if local == name {
            let close = xml[at..].find(&format!("</{qname}>"))?;
            return Some(&xml[at..at + close]);
        }
    }
    None
}

/// LEGACY. Parse the `loginResponse` into [`Tokens`] (no refresh token): the REST instance is
/// the origin of `serverUrl`, the identity URL is built as `{login}/id/{orgId}/{userId}`.
/// A SOAP fault becomes [`Error::OAuth`] with the fault code (e.g. `sf:INVALID_LOGIN`).
pub fn parse_soap_login(login: &Url, resp: &Response, now: SystemTime) -> Result<Tokens> {
    let xml = String::from_utf8_lossy(&resp.body);
    if let Some(code) = element(&xml, "faultcode") {
        return Err(Error::OAuth {
            error: xml_unescape(code.trim()),
            description: element(&xml, "faultstring").map(|s| xml_unescape(s.trim())),
        });
    }
    if !resp.status.is_success() {
        return Err(Error::Status {
            status: resp.status.as_u16(),
            what: "SOAP login",
            body: String::new(),
        });
    }
    let field = |name: &'static str| -> Result<String> {
        element(&xml, name)
            .map(|s| xml_unescape(s.trim()))
            .filter(|s| !s.is_empty())
            .ok_or(Error::Decode {
                what: "SOAP loginResponse",
                message: format!("no <{name}>"),
                body: String::new(),
            })
    };
    let session = field("sessionId")?;
    let server = Url::parse(&field("serverUrl")?).map_err(|e| Error::Decode {
        what: "SOAP serverUrl",
        message: e.to_string(),
        body: String::new(),
    })?;
    let user = field("userId")?;
    let org = field("organizationId")?;
    let mut instance = server.clone();
    instance.set_path("/");
    instance.set_query(None);
    let id_url = login
        .join(&format!("/id/{org}/{user}"))
        .map_err(|e| Error::Decode {
            what: "identity URL",
            message: e.to_string(),
            body: String::new(),
        })?;
    tokens_from_parts(
        session,
        None,
        instance.as_str(),
        id_url.as_str(),
        None,
        None,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};

    fn resp(status: u16, body: String) -> Response {
        Response {
            status: StatusCode::from_u16(status).expect("status"),
            headers: HeaderMap::new(),
            body: body.into_bytes(),
        }
    }

    fn runtime_secret() -> String {
        let n = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(1);
        format!("00D5g000004KcPQ!{n:x}")
    }

    #[test]
    fn envelope_escapes_credentials_and_refuses_new_versions() {
        let login = Url::parse("https://login.salesforce.com").expect("url");
        let pw = SecretString::from(format!("p<&>{}", runtime_secret()));
        let req = prepare_soap_login(&login, LAST_SOAP_LOGIN_VERSION, "a&b@x.example", &pw)
            .expect("prepare");
        assert_eq!(
            req.uri().path(),
            "/services/Soap/u/64.0",
            "partner endpoint"
        );
        let body = String::from_utf8(req.body().clone()).expect("utf8");
        assert!(
            body.contains("<urn:username>a&amp;b@x.example</urn:username>"),
            "username escaped: {body}"
        );
        assert!(body.contains("p&lt;&amp;&gt;"), "password escaped");
        assert!(
            prepare_soap_login(
                &login,
                ApiVersion {
                    major: 65,
                    minor: 0
                },
                "u",
                &pw
            )
            .is_err(),
            "login() does not exist from v65.0"
        );
    }

    #[test]
    fn login_response_and_fault() {
        let login = Url::parse("https://login.salesforce.com").expect("url");
        let session = runtime_secret();
        let ok = format!(
            "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns=\"urn:partner.soap.sforce.com\">\
<soapenv:Body><loginResponse><result><passwordExpired>false</passwordExpired>\
<serverUrl>https://acme.my.salesforce.com/services/Soap/u/64.0/00D5g000004KcPQ</serverUrl>\
<sessionId>{session}</sessionId><userId>0055g00000KcAgTAAV</userId>\
<userInfo><organizationId>00D5g000004KcPQEA0</organizationId><sessionSecondsValid>7200</sessionSecondsValid></userInfo>\
</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        );
        let t = parse_soap_login(&login, &resp(200, ok), SystemTime::UNIX_EPOCH).expect("parses");
        assert_eq!(
            t.access_token.expose_secret(),
            session,
            "sessionId is the bearer token"
        );
        assert!(
            t.refresh_token.is_none(),
            "SOAP login gives no refresh token"
        );
        assert_eq!(
            t.instance_url.as_str(),
            "https://acme.my.salesforce.com/",
            "instance is serverUrl's origin"
        );
        assert_eq!(
            t.org_and_user_id(),
            Some(("00D5g000004KcPQEA0".into(), "0055g00000KcAgTAAV".into())),
            "identity built from org and user ids"
        );
        let fault = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:sf=\"urn:fault.partner.soap.sforce.com\">\
<soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>\
<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>\
</soapenv:Fault></soapenv:Body></soapenv:Envelope>";
        let err = parse_soap_login(&login, &resp(500, fault.into()), SystemTime::UNIX_EPOCH)
            .expect_err("fault");
        assert!(
            matches!(err, Error::OAuth { ref error, .. } if error == "sf:INVALID_LOGIN"),
            "fault code carried: {err:?}"
        );
        assert!(
            parse_soap_login(&login, &resp(200, "<x/>".into()), SystemTime::UNIX_EPOCH).is_err(),
            "a response without sessionId is a decode error"
        );
    }
}
