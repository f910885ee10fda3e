// Package mail sends the appliance's mail: the links and one-time codes of
// secure links, through an SMTP server named in the [mail] section of the
// configuration.
//
// Mail never goes out from the request that causes it. The caller queues a
// Message in its own store (a Queue), in the same transaction as the grant
// or code that causes it, and a Deliverer sends what is due: a message the
// server accepts is Sent; one it refuses for good (a 5xx reply, an address
// that cannot be parsed) is Failed; any other failure (a 4xx reply, a
// server that is down, a timeout, a failed login) is retried with
// exponential Backoff for up to three days, then Failed. A message with an
// expiry (a code mail whose code is only valid for minutes) that is still
// queued when it expires is Dropped without being sent.
//
// A Message may carry a Secret, the one-time code its Body holds; Masked
// hides it for anyone reading the outbox. Logs name the recipient, the
// queue id and the error, never the subject, the body or a secret, and the
// SMTP password never appears in an error.
//
// Security: "tls" speaks TLS from the first byte (SMTPS, port 465),
// "starttls" (the default, port 587) refuses a server that does not offer
// STARTTLS, and "none" (port 25) sends in the clear; certificates are
// always verified. With a username, the client logs in with the strongest
// mechanism the server offers over TLS; without TLS only to a relay on the
// local host, so the password never crosses a network in the clear.
package mail
