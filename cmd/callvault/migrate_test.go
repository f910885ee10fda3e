package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webtest"
)

// migratePauseEnv makes a migrate command run by the test binary (as
// TestMain runs the daemon) stop after that many committed batches and
// wait to be killed.
const migratePauseEnv = "CALLVAULT_TEST_MIGRATE_PAUSE"

func init() {
	n, err := strconv.Atoi(os.Getenv(migratePauseEnv))
	if err != nil || n <= 0 {
		return
	}
	migrateHook = func(p archive.MigrateProgress) {
		if p.Batches >= n {
			fmt.Fprintf(os.Stdout, "paused after %d records\n", p.Records)
			select {}
		}
	}
}

// TestMigrateCommand: a bbolt archive with recordings (one purged, one in
// the recycle bin, one with its export hashes still due), users, audit
// and settings is copied by `callvault migrate --to-config` into
// PostgreSQL + S3: refused while its daemon runs; a copy killed with
// SIGKILL resumes where it stopped; the daemon on the new configuration
// lists, plays (byte-identical WAVs) and verifies every recording; back
// into a new bbolt file the same again. A target that holds another
// archive is refused, and so is a database a daemon is connected to.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "callvault.key")
	data, pgData, backData := filepath.Join(dir, "data"), filepath.Join(dir, "pgdata"), filepath.Join(dir, "back")
	storage, err := os.ReadFile(startPostgresStorage(t, dir, "").conf)
	if err != nil {
		t.Fatal(err)
	}
	pgConf := writeConfig(t, fmt.Sprintf("[archive]\ndata = %q\nkey_file = %q\n", pgData, key)+string(storage))
	backConf := writeConfig(t, fmt.Sprintf("[archive]\ndata = %q\nkey_file = %q\n", backData, key))
	fromBolt := []string{"migrate", "--data", data, "--key-file", key, "--to-config", pgConf}

	// The source: a daemon's recordings, WAVs kept to compare.
	d := startDaemon(t, data)
	var ids []string
	for i := range 4 {
		id := d.ingestSynth(t, fmt.Sprintf("eeeeeeeeeeeeeeeeeeeeeeeeeeee%04d", i), "alice", synthCall{seconds: 2 + i, callID: fmt.Sprintf("mig-%d@pbx", i),
			from: synthParty{"Alice", "alice"}, to: synthParty{"Bob", "bob"}})
		ids = append(ids, id)
	}
	waitSealed(t, d, ids)
	if err := run(t.Context(), fromBolt, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "stop the daemon") {
		t.Fatalf("migrate while the daemon runs: %v", err)
	}
	wavs := map[string][]byte{}
	for _, id := range ids[1:3] { // ids[0] is purged, ids[3] binned below
		resp, wav := d.get(t, "/api/v1/recordings/"+id+"/audio.wav")
		if resp.StatusCode != 200 {
			t.Fatalf("WAV %s: %s", id, resp.Status)
		}
		wavs[id] = wav
	}
	d.stop()
	arc, err := archive.Open(filepath.Join(data, "callvault.db"), archive.Options{KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	purged, _ := archive.ParseID(ids[0])
	binned, _ := archive.ParseID(ids[3])
	if err := arc.Delete(ctx, purged, "admin", "erasure request"); err != nil {
		t.Fatal(err)
	}
	if err := arc.Bin(ctx, binned, "admin"); err != nil {
		t.Fatal(err)
	}
	due := webtest.AddRec(t, arc, arc.Now(), "alice", 1000, 0, false)
	if err := arc.SealDeferred(ctx, due.ID); err != nil {
		t.Fatal(err)
	}
	if err := arc.PutUser(ctx, archive.User{Login: "carol", Name: "Carol", Role: archive.RoleAdmin}, "carol-password-1"); err != nil {
		t.Fatal(err)
	}
	settings, err := arc.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := arc.PutSettings(ctx, settings); err != nil {
		t.Fatal(err)
	}
	if err := arc.Audit(ctx, archive.AuditEvent{Actor: "admin", Action: "settings.change", OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := arc.Close(); err != nil {
		t.Fatal(err)
	}

	// Killed mid-copy, then resumed.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append(fromBolt, "--batch-records", "3")...)
	cmd.Env = append(os.Environ(), "CALLVAULT_TEST_DAEMON=1", migratePauseEnv+"=4")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill(); <-exited }()
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(out.String(), "paused after") {
		select {
		case <-exited:
			t.Fatalf("the copy ended before its fourth batch:\n%s", out.String())
		case <-deadline:
			t.Fatalf("the copy did not reach its fourth batch:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	<-exited
	var stdout bytes.Buffer
	if err := run(ctx, append(fromBolt, "--batch-records", "50"), &stdout, &stdout); err != nil {
		t.Fatalf("resumed migrate: %v\n%s", err, stdout.String())
	}
	m := regexp.MustCompile(`resuming an unfinished copy: (\d+) records`).FindStringSubmatch(stdout.String())
	if m == nil || m[1] == "0" {
		t.Fatalf("the rerun did not resume:\n%s", stdout.String())
	}
	for _, want := range []string{"identical", "verified the copy: 4 recordings", "1 with their export hashes still to be sealed", "Point the daemon at " + pgConf} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, stdout.String())
		}
	}

	// The daemon on the new configuration.
	checkDaemon := func(data string, tweak func(*serveOptions)) {
		t.Helper()
		d := startDaemonWith(t, data, tweak)
		defer d.stop()
		listed := d.recordings(t)
		if _, ok := listed[ids[0]]; ok {
			t.Fatalf("the purged recording is listed")
		}
		for id, want := range wavs {
			resp, wav := d.get(t, "/api/v1/recordings/"+id+"/audio.wav")
			if resp.StatusCode != 200 || !bytes.Equal(wav, want) {
				t.Fatalf("WAV %s: %s, %d bytes, identical %v", id, resp.Status, len(wav), bytes.Equal(wav, want))
			}
			d.mustVerify(t, id)
		}
		d.mustVerifyChain(t)
	}
	checkDaemon(pgData, func(o *serveOptions) { o.config = pgConf })

	// Refused: a database a daemon is connected to; a target holding an archive.
	d = startDaemonWith(t, pgData, func(o *serveOptions) { o.config = pgConf })
	if err := run(ctx, []string{"migrate", "--config", pgConf, "--to-config", backConf}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "other sessions") {
		t.Fatalf("migrate with a daemon on the database: %v", err)
	}
	d.stop()
	if err := run(ctx, fromBolt, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "already holds an archive") {
		t.Fatalf("migrate into a database holding an archive: %v", err)
	}

	// And back into a new bbolt file.
	stdout.Reset()
	if err := run(ctx, []string{"migrate", "--config", pgConf, "--to-config", backConf}, &stdout, &stdout); err != nil {
		t.Fatalf("migrate back: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "verified the copy: 4 recordings") {
		t.Fatalf("output:\n%s", stdout.String())
	}
	var vout bytes.Buffer
	if err := run(ctx, []string{"verify", "--data", backData, "--key-file", key}, &vout, &vout); err != nil || !strings.Contains(vout.String(), "chain\tok") {
		t.Fatalf("verify of the bbolt copy: %v\n%s", err, vout.String())
	}
	checkDaemon(backData, nil)
}

// waitSealed waits until the daemon lists every id sealed.
func waitSealed(t *testing.T, d *daemon, ids []string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		listed, all := d.recordings(t), true
		for _, id := range ids {
			all = all && listed[id].Sealed
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all of %v sealed: %+v", ids, listed)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMigrateCommandInterrupted: a copy from one bbolt file into another
// stopped by Ctrl-C (its context cancelled) says how to resume; the rerun
// resumes after the batches committed, and the daemon on the new data
// directory plays the recording as before.
func TestMigrateCommandInterrupted(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "callvault.key")
	data, newData := filepath.Join(dir, "data"), filepath.Join(dir, "new")
	d := startDaemon(t, data)
	id := d.ingestSynth(t, "ffffffffffffffffffffffffffff0001", "alice", synthCall{seconds: 3, callID: "int-1@pbx",
		from: synthParty{"Alice", "alice"}, to: synthParty{"Bob", "bob"}})
	waitSealed(t, d, []string{id})
	_, wav := d.get(t, "/api/v1/recordings/"+id+"/audio.wav")
	d.stop()
	conf := writeConfig(t, fmt.Sprintf("[archive]\ndata = %q\nkey_file = %q\n", newData, key))
	args := []string{"migrate", "--data", data, "--key-file", key, "--to-config", conf, "--batch-records", "2"}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	migrateHook = func(p archive.MigrateProgress) {
		if p.Batches == 3 {
			cancel()
		}
	}
	defer func() { migrateHook = nil }()
	var out bytes.Buffer
	err := run(ctx, args, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("interrupted migrate: %v\n%s", err, out.String())
	}
	if _, err := archive.Open(filepath.Join(newData, "callvault.db"), archive.Options{KeyFile: key}); err == nil || !strings.Contains(err.Error(), "callvault migrate") {
		t.Fatalf("open of the unfinished copy: %v", err)
	}
	migrateHook = nil
	out.Reset()
	if err := run(t.Context(), args, &out, &out); err != nil {
		t.Fatalf("resumed migrate: %v\n%s", err, out.String())
	}
	if m := regexp.MustCompile(`resuming an unfinished copy: (\d+) records`).FindStringSubmatch(out.String()); m == nil || m[1] == "0" {
		t.Fatalf("the rerun did not resume:\n%s", out.String())
	}
	d = startDaemon(t, newData)
	defer d.stop()
	if resp, got := d.get(t, "/api/v1/recordings/"+id+"/audio.wav"); resp.StatusCode != 200 || !bytes.Equal(got, wav) {
		t.Fatalf("WAV on the copy: %s, identical %v", resp.Status, bytes.Equal(got, wav))
	}
	d.mustVerify(t, id)
	d.mustVerifyChain(t)
}
