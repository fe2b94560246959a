//! `type = "email"`: mail over SMTP with lettre, on the daemon's runtime.
//!
//! `smtp://` with STARTTLS (`required`, `opportunistic` or `never`) or
//! `smtps://` (TLS from the first byte), AUTH when `user` is set. TLS by
//! rustls, trusting the bundled Mozilla roots and, with `ca_file`, a
//! private CA. The message: `[assay] FIRING credit: skew on income (+2
//! more)`, a plain-text and an HTML part, `Message-ID:
//! <DELIVERY_ID@DOMAIN>` (the domain of `from`) and `X-Assay-Delivery:
//! DELIVERY_ID`, the same on every retry, so that a mail reader or a
//! ticketing system can deduplicate.

use std::time::Duration;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::DeliveryError;
use crate::alerts::config::{EmailConfig, Starttls};
use crate::alerts::outbox::Entry;

/// Findings listed in a mail's body (the report has all of them).
const LISTED: usize = 200;

pub struct EmailReceiver {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    domain: String,
}

impl EmailReceiver {
    pub fn new(config: &EmailConfig, timeout: Duration) -> Result<Self, String> {
        let tls = if config.implicit_tls || config.starttls != Starttls::Never {
            let mut params = TlsParameters::builder(config.host.clone());
            if let Some(ca) = &config.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", ca.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| format!("the CA file {}: {e}", ca.display()))?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build_rustls()
                .map_err(|e| format!("TLS setup: {e}"))?;
            if config.implicit_tls {
                Tls::Wrapper(params)
            } else if config.starttls == Starttls::Required {
                Tls::Required(params)
            } else {
                Tls::Opportunistic(params)
            }
        } else {
            Tls::None
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
                .port(config.port)
                .tls(tls)
                .timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&config.user, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.read()?));
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("`from` is not an address: {e}"))?;
        let to = config
            .to
            .iter()
            .map(|t| {
                t.parse()
                    .map_err(|e| format!("`to` {t:?} is not an address: {e}"))
            })
            .collect::<Result<Vec<Mailbox>, String>>()?;
        let domain = from.email.domain().to_string();
        Ok(Self {
            transport: builder.build(),
            from,
            to,
            domain,
        })
    }

    /// The message for an entry.
    pub fn message(&self, entry: &Entry) -> Result<Message, String> {
        let n = &entry.notification;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(n.subject())
            .message_id(Some(format!("<{}@{}>", entry.delivery_id, self.domain)))
            .header(AssayDelivery(entry.delivery_id.clone()))
            .user_agent(format!("assay/{}", env!("CARGO_PKG_VERSION")));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                n.text(LISTED),
                n.html(LISTED),
            ))
            .map_err(|e| format!("building the message: {e}"))
    }

    pub async fn deliver(&self, entry: &Entry) -> Result<(), DeliveryError> {
        let message = self.message(entry).map_err(DeliveryError::permanent)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // A permanent SMTP answer (5xx: mailbox unknown, message
            // refused) will not change on a retry.
            Err(e) if e.is_permanent() => Err(DeliveryError::permanent(format!("SMTP: {e}"))),
            Err(e) => Err(DeliveryError::retry(format!("SMTP: {e}"))),
        }
    }
}

/// `X-Assay-Delivery: DELIVERY_ID`.
#[derive(Clone)]
struct AssayDelivery(String);

impl Header for AssayDelivery {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Assay-Delivery")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}
