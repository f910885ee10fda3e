package webcore

import "testing"

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "plain": "plain", "=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "a=b": "a=b",
	} {
		if got := CSVCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
	if ActionLabel("play") != "Played" || ActionLabel("lifecycle.run") != "Retention run" || ActionLabel("x.y_z") != "X y z" {
		t.Fatal("actionLabel")
	}
}
