package ui

// sampleWebhookPages are the view models of the webhooks' pages for
// TestTemplatesRender.
func sampleWebhookPages(base Base) map[string][]any {
	evil := `<script>alert(1)</script>`
	row := webhookRow{ID: "ab12", URL: "https://crm.example.com/h?x=" + evil, Users: "alice, bob", Enabled: false,
		DisabledReason: "the endpoint answered 410 Gone" + evil, DisabledAt: "2026-11-21 10:00", Pending: 2}
	return map[string][]any{
		"webhooks.html": {webhooksPage{}, webhooksPage{Base: base, Rows: []webhookRow{row, {ID: "cd34", URL: "https://x.example", Enabled: true}},
			Form: webhookForm{Enabled: true}}},
		"webhook.html": {webhookPage{}, webhookPage{Base: base, Hook: row, Form: webhookForm{URL: row.URL, Users: row.Users},
			Attempts: []webhookAttemptRow{
				{Time: "2026-11-21 10:00:00", Delivery: "msg_1", CallID: "guid", Status: "failed", Code: 500, Error: "answer 500" + evil, Next: "2026-11-21 10:00:30"},
				{Time: "2026-11-21 09:00:00", Delivery: "msg_0", Status: "delivered", Code: 204},
			}}},
	}
}
