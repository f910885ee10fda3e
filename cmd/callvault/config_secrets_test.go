package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestConfigErrorsHideURLCredentials: a URL-ish value holding user info
// (a credential) is never quoted by config check, whether it parses or
// not; the error names the key. A value without one is still quoted.
func TestConfigErrorsHideURLCredentials(t *testing.T) {
	const secret = "S3cr3t"
	pg := "[storage]\nbackend = \"postgres+s3\"\npostgres_url = \"postgres://h/db\"\ns3_bucket = \"bkt\"\n"
	for _, c := range []struct{ text, key string }{
		{pg + "s3_endpoint = \"https://AKIAXX:" + secret + "^key@s3.example.net\"\n", "storage.s3_endpoint"}, // does not parse
		{pg + "s3_endpoint = \"https://AKIAXX:" + secret + "key@s3.example.net\"\n", "storage.s3_endpoint"},
		{pg + "s3_endpoint = \"AKIAXX:" + secret + "key@s3.example.net\"\n", "storage.s3_endpoint"}, // no scheme
		{"[flex]\nvalidate_url = \"https://AKIAXX:" + secret + "^x@iam.example.com/v1\"\n", "flex.validate_url"},
		{"[flex]\nvalidate_url = \"http://AKIAXX:" + secret + "@iam.example.com/v1\"\n", "flex.validate_url"},
		{"[flex]\nallowed_origins = [\"https://AKIAXX:" + secret + "^x@flex.example.com\"]\n", "flex.allowed_origins"},
		{"[flex]\npublic_url = \"https://AKIAXX:" + secret + "@ui.example.com\"\n", "flex.public_url"},
		{"[flex]\npublic_url = \"https://AKIAXX:" + secret + "^x@ui.example.com\"\n", "flex.public_url"},
		{"[share]\npublic_url = \"https://AKIAXX:" + secret + "@play.example.com\"\n", "share.public_url"},
		{"[share]\nui_url = \"https://AKIAXX:" + secret + "^x@ui.example.com\"\n", "share.ui_url"},
		{"[mail]\nsmtp_host = \"AKIAXX:" + secret + "@smtp.example.com\"\nfrom = \"a@example.com\"\n", "mail.smtp_host"},
	} {
		var out bytes.Buffer
		err := run(t.Context(), []string{"config", "check", writeConfig(t, c.text)}, &out, &out)
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%q: %v, want an error naming %s", c.text, err, c.key)
			continue
		}
		if shown := err.Error() + out.String(); strings.Contains(shown, secret) || strings.Contains(shown, "AKIAXX") {
			t.Errorf("%q: the credential is shown: %v %s", c.text, err, out.String())
		}
	}
	// Without user info the value is still quoted, to be found.
	if _, err := loadConfig(writeConfig(t, pg+"s3_endpoint = \"ftp://s3.example.net\"\n")); err == nil || !strings.Contains(err.Error(), `"ftp://s3.example.net"`) {
		t.Errorf("ftp endpoint: %v", err)
	}
	// Neither the log line nor an error text shows user info of a URL
	// that does not parse.
	s := StorageConfig{Backend: backendPostgres, PostgresURL: "postgres://u:p^" + secret + "@h/db", S3Endpoint: "https://AKIAXX:" + secret + "^key@s3.example.net", S3Bucket: "bkt"}
	for _, shown := range []string{s.String(), redactURL(s.PostgresURL), redactURL("connect postgres://u:p^" + secret + "@h/db: refused")} {
		if strings.Contains(shown, secret) || strings.Contains(shown, "AKIAXX") {
			t.Errorf("shown as %q", shown)
		}
	}
}

// TestFlexValidateURLNeedsHTTPS: the account SID and auth token go to
// flex.validate_url as Basic auth, so it must be https; plain http only
// to a loopback address (a local proxy, the tests' server).
func TestFlexValidateURLNeedsHTTPS(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://iam.twilio.com/v1/Accounts/{AccountSid}/Tokens/validate", true},
		{"http://iam.twilio.com/v1/Accounts/{AccountSid}/Tokens/validate", false},
		{"http://10.0.0.5:8080/validate", false},
		{"http://127.0.0.1.example.net/validate", false},
		{"ftp://iam.twilio.com/v1", false},
		{"http://127.0.0.1:8080/v1/Accounts/{AccountSid}/Tokens/validate", true},
		{"http://[::1]:8080/validate", true},
		{"http://localhost:8080/validate", true},
	} {
		_, err := loadConfig(writeConfig(t, "[flex]\nvalidate_url = \""+c.url+"\"\n"))
		if c.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "flex.validate_url: \""+c.url+"\": give an absolute https URL")) {
			t.Errorf("%s: %v, want ok=%v", c.url, err, c.ok)
		}
	}
}
