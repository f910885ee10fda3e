// Package flex is the appliance's url_provider for Twilio Flex Insights:
// the Flex Insights player plays recordings kept in the archive.
//
// # The exchange
//
// A recording's Custom Media in Flex names
// https://<appliance>/flex/url?recording=<recording id or call id> as its
// url_provider. To play it, the player (a page on https://flex.twilio.com)
// sends
//
//	GET /flex/url?recording=…
//	Authorization: Basic base64("token:" + <the user's Flex JWE token>)
//
// (the credential is split on its first colon; the user part must be
// "token"). The appliance validates the token, maps the Flex user to an
// archive user, checks that user's right to the recording (the rule of
// archive.MayRead and 4-eyes access, as the JSON API has it), audits the
// request ("flex.url") and answers
//
//	{"media_url": "https://<appliance>/flex/media/<link token>"}
//
// The media URL carries its own authorisation (see Links) and streams the
// decrypted stereo WAV with Range support. A recording id names one
// recording (every call in it, joined); a call id names the call's
// segments the user may read, joined in order.
//
// # Validating a Flex token
//
// Twilio's token validation API (the one twilio-flex-token-validator
// calls): POST https://iam.twilio.com/v1/Accounts/{AccountSid}/Tokens/validate
// with Basic AccountSid:AuthToken and the JSON body {"token": "<JWE>"}.
// Its answer is a JSON object:
//
//	{"valid": true, "code": 0, "message": null,
//	 "expiration": "2018-09-24T23:22:44.240Z",
//	 "realm_user_id": "user@example.com", "identity": "user_40example_2Dcom",
//	 "roles": ["agent"], "worker_sid": "WKxxx"}
//
// Only "valid": true with an expiration still ahead (or none given) is a
// valid token; "valid": false is 401 to the player, whatever code and
// message say. A validation service that cannot be reached, times out,
// answers 5xx or 429 or no JSON is 503; one that refuses the appliance's
// own AccountSid and AuthToken (401, 403) is 502 and logged, because the
// configuration is wrong. Neither is ever a 200. Other 4xx answers refuse
// the token (401). The URL is configurable ({AccountSid} is replaced), so
// tests run it against a loopback server speaking the same API.
//
// A valid answer is cached for a minute at most (never past the token's
// expiration), keyed by the SHA-256 of the token, at most 4096 entries;
// refusals are not cached. A client address whose tokens were refused 30
// times in a minute gets 429 (Retry-After) for the rest of the minute
// instead of a call to the validation service, so guessing cannot run the
// appliance into Twilio's rate limits; a cached token still works. The
// token itself is never logged, stored or echoed.
//
// # Mapping a Flex user to an archive user
//
// Options.Users names Flex users explicitly: a key is compared with the
// answer's identity, then with its realm_user_id; the value is the archive
// login. Otherwise Options.UserMap says which field is the login:
// "identity", "realm_user_id", "realm_user_id_local" (realm_user_id up to
// its '@'), or "map" (the default: only the explicit map; a Flex user it
// does not name gets 403). A login that does not exist, a disabled user or
// an ingest account is 403.
//
// # API tokens
//
// An archive API token (cvt_…) is accepted instead of a Flex token, as
// Basic "token:<API token>" or "Bearer <API token>": the token's user is
// the user. It goes through the archive's guessing limit (429).
//
// # Links
//
// A link is 192 random bits; only its SHA-256 is kept, in memory (a
// restart ends every link, which the player recovers from by asking the
// url_provider again). It is valid for five minutes from when it was made
// (on the archive's clock), whether used or not. It is single-use in the
// sense of one listening: the first request for it binds it to that client
// (its address and User-Agent); the Range requests an audio element makes
// while playing and seeking come from that same client and are served
// until the five minutes end; any other client gets 404. A player needs
// several requests for one listening, so a link that died after its first
// response would break seeking and the end of long recordings; binding it
// to the client that first used it keeps it useless to anyone who reads
// it later (from a log or a history) while the player works. A response
// that started inside the five minutes finishes. Each request checks the
// user's rights again (a user disabled, a recording binned, a 4-eyes
// grant ended — the stream stops with the grant); the first audits a
// "play".
//
// # CORS
//
// Options.AllowedOrigins (default https://flex.twilio.com) are the origins
// whose pages may call /flex/url and /flex/media: their responses carry
// Access-Control-Allow-Origin with that origin, and others none. OPTIONS
// preflights are answered without authentication, allowing GET and the
// Authorization and Range headers, for allowed origins only (403
// otherwise).
package flex
