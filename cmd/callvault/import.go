package main

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recorder"
)

// originalsHandler is GET /api/v1/originals/{sha256} for ingest and admin
// logins: the recordings whose stored capture has that SHA-256 (of the
// decompressed bytes), so an import skips what is already there.
func originalsHandler(arc *archive.Archive) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := basicAuth(r, arc, archive.RoleIngest, archive.RoleAdmin); err != nil {
			refuseAuth(w, err, `Basic realm="callvault ingest", charset="UTF-8"`, "ingest or admin login required")
			return
		}
		b, err := hex.DecodeString(r.PathValue("sha256"))
		if err != nil || len(b) != sha256.Size {
			http.Error(w, "want 64 hex digits", http.StatusBadRequest)
			return
		}
		ids, err := arc.ByOriginal(r.Context(), [32]byte(b))
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		out := struct {
			IDs []string `json:"ids"`
		}{IDs: []string{}}
		for _, id := range ids {
			out.IDs = append(out.IDs, id.String())
		}
		w.Header().Set("Content-Type", "application/json")
		if len(ids) == 0 {
			w.WriteHeader(http.StatusNotFound)
		}
		_ = json.NewEncoder(w).Encode(out)
	})
}

// importer stores captures, either through a running daemon or straight
// into a stopped data directory.
type importer interface {
	has(ctx context.Context, sum [32]byte) (bool, error)
	put(ctx context.Context, name string, body io.Reader, size int64) (state string, err error)
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var co clientOptions
	var so storeOptions
	fset := newFlagSet("import", stderr)
	co.flags(fset, "ingest")
	fset.StringVar(&so.data, "data", "", "data directory of a stopped daemon (instead of --url)")
	fset.StringVar(&so.keyFile, "key-file", "", "archive key file (with --data)")
	keepCallTime := fset.Bool("keep-call-time", false, "with --data: count retention and the seat grace from each call's own time instead of from the import (recordings past them are deleted at the daemon's next start)")
	paths, err := parseInterspersed(fset, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "usage: callvault import [--url URL --user ingest --password-file FILE | --data DIR [--keep-call-time]] [--config FILE] PATH...")
		return errors.New("import: no files or folders given")
	}
	so.config = co.config
	cfg, err := so.load()
	if err != nil {
		return err
	}
	files, total, err := collectCaptures(paths)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	var imp importer
	var local *localImporter
	if co.url != "" {
		if *keepCallTime {
			return errors.New("import: --keep-call-time needs --data (the data directory of a stopped daemon)")
		}
		c, err := co.client(&cfg)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		imp = &remoteImporter{c: c, prefix: cfg.Ingest.Prefix}
	} else {
		if err := cfg.boltOnly("import --data"); err != nil {
			return fmt.Errorf("%w; import through the daemon with --url URL --user ingest", err)
		}
		if err := archive.CheckNotInUse(cfg.dbPath(), time.Second); err != nil {
			return fmt.Errorf("import: %w: the daemon is running, import through it with --url URL --user ingest", err)
		}
		arc, err := openArchive(&cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer arc.Close()
		rec, err := recorder.New(arc, recorder.Config{Prefix: cfg.Ingest.Prefix, MaxUploadBytes: cfg.Ingest.MaxUploadMB << 20}, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		// Before the archive closes: the export hashes sealed after each
		// recording (on an interrupt, they are left due for the next start).
		defer func() {
			if ctx.Err() != nil {
				rec.Close()
			} else {
				rec.Wait()
			}
		}()
		if err := rec.Recover(ctx); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		local = &localImporter{arc: arc, rec: rec, maxUploadMB: cfg.Ingest.MaxUploadMB}
		if *keepCallTime {
			if local.policy, err = arc.Policy(ctx); err != nil {
				return fmt.Errorf("import: %w", err)
			}
			fmt.Fprintln(stdout, keepCallTimeNotice(local.policy))
		}
		imp = local
	}
	p := newProgress(stderr, len(files), total)
	res := importFiles(ctx, imp, files, p)
	p.finish()
	fmt.Fprintf(stdout, "import: %d imported, %d already there, %d failed, %d not captures, %d too large, of %d files (%s)\n",
		res.imported, res.skipped, res.failed, res.refused, res.tooLarge, len(files), humanBytes(total))
	if local != nil && local.policy != nil {
		fmt.Fprintf(stdout, "import: %d of the imported recordings are past their retention or seat grace by their call time: the next lifecycle run (at the daemon's start) deletes them\n", local.due)
	}
	if res.failed > 0 {
		return fmt.Errorf("import: %d files failed (listed above); run the same command again to retry them", res.failed)
	}
	if res.tooLarge > 0 {
		return fmt.Errorf("import: %d files larger than ingest.max_upload_mb (listed above): only their beginnings are stored, as interrupted recordings", res.tooLarge)
	}
	return ctx.Err()
}

type captureFile struct {
	path string
	size int64
}

// captureExts are the names a folder walk picks up; files named on the
// command line are taken whatever their name.
var captureExts = []string{".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz"}

func isCaptureName(name string) bool {
	n := strings.ToLower(name)
	for _, e := range captureExts {
		if strings.HasSuffix(n, e) {
			return true
		}
	}
	return false
}

// collectCaptures lists the files to import, in a stable order.
func collectCaptures(paths []string) ([]captureFile, int64, error) {
	var out []captureFile
	var total int64
	seen := map[string]bool{}
	add := func(p string, size int64) {
		if abs, err := filepath.Abs(p); err == nil && !seen[abs] {
			seen[abs] = true
			out = append(out, captureFile{p, size})
			total += size
		}
	}
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, 0, err
		}
		if !fi.IsDir() {
			add(root, fi.Size())
			continue
		}
		var found []captureFile
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && isCaptureName(d.Name()) {
				info, err := d.Info()
				if err != nil {
					return err
				}
				found = append(found, captureFile{p, info.Size()})
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		slices.SortFunc(found, func(a, b captureFile) int { return strings.Compare(a.path, b.path) })
		for _, f := range found {
			add(f.path, f.size)
		}
	}
	return out, total, nil
}

type importResult struct{ imported, skipped, failed, refused, tooLarge int }

// errNotCapture reports a file that is not a pcap or pcapng capture (gzip
// of either is fine): it is left out, not retried.
var errNotCapture = errors.New("not a pcap or pcapng capture; left out")

// errTooLarge reports a capture larger than ingest.max_upload_mb: like an
// upload to the daemon, its beginning is kept as an interrupted recording
// and the rest is not stored. Importing it again would store the same
// beginning again, so it is not counted among the files to retry.
var errTooLarge = errors.New("larger than ingest.max_upload_mb")

func importFiles(ctx context.Context, imp importer, files []captureFile, p *progress) importResult {
	var res importResult
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		status, err := importOne(ctx, imp, f, p)
		switch {
		case errors.Is(err, errNotCapture):
			res.refused++
			status = "skipped: " + err.Error()
		case errors.Is(err, errTooLarge):
			res.tooLarge++
			status = "TOO LARGE: " + err.Error()
		case err != nil:
			res.failed++
			status = "FAILED: " + err.Error()
		case status == "already there":
			res.skipped++
		default:
			res.imported++
		}
		p.fileDone(f, status)
	}
	return res
}

// importOne hashes the capture as the archive will store it (decompressed
// when gzip), skips it when a recording with that original exists, and
// stores it otherwise. The upload name is the file's base name, so the
// innovaphone naming gives call id and user.
func importOne(ctx context.Context, imp importer, f captureFile, p *progress) (string, error) {
	sum, err := storedHash(f.path)
	if err != nil {
		return "", err
	}
	if ok, err := imp.has(ctx, sum); err != nil {
		return "", err
	} else if ok {
		return "already there", nil
	}
	in, err := os.Open(f.path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	state, err := imp.put(ctx, filepath.Base(f.path), p.reader(in), f.size)
	if err != nil {
		return "", err
	}
	return state, nil
}

// storedHash is the SHA-256 of a capture file as the archive stores it.
func storedHash(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	var r io.Reader = f
	var magic [2]byte
	if n, _ := io.ReadFull(f, magic[:]); n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return [32]byte{}, err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return [32]byte{}, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	} else if _, err := f.Seek(0, io.SeekStart); err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return [32]byte{}, fmt.Errorf("%s: %w", path, err)
	}
	return [32]byte(h.Sum(nil)), nil
}

type localImporter struct {
	arc *archive.Archive
	rec *recorder.Recorder
	// policy, with --keep-call-time: retention counts from each call's
	// time; due counts the recordings the next lifecycle run deletes.
	policy *archive.Policy
	due    int
	// maxUploadMB is ingest.max_upload_mb, the recorder's limit.
	maxUploadMB int64
}

// keepCallTimeNotice says, before an import with --keep-call-time, what
// the current settings delete.
func keepCallTimeNotice(p *archive.Policy) string {
	msg := "import: --keep-call-time: retention and the seat grace count from each call's own time"
	if p.RetentionDays > 0 {
		cut := p.Today().AddDate(0, 0, -p.RetentionDays)
		msg += fmt.Sprintf("; with retention %d days, calls before %s are deleted at the next lifecycle run (the daemon's start)",
			p.RetentionDays, cut.Format(time.DateOnly))
	}
	grace := p.Today().AddDate(0, 0, -archive.SeatGraceDays)
	return msg + fmt.Sprintf("; calls before %s of users without a recording seat or of names no user has are deleted then too", grace.Format(time.DateOnly))
}

func (l *localImporter) has(ctx context.Context, sum [32]byte) (bool, error) {
	ids, err := l.arc.ByOriginal(ctx, sum)
	return len(ids) > 0, err
}

func (l *localImporter) put(ctx context.Context, name string, body io.Reader, _ int64) (string, error) {
	rec, err := l.rec.Import(ctx, name, body)
	if errors.Is(err, recorder.ErrNotCapture) {
		return "", errNotCapture
	}
	if errors.Is(err, recorder.ErrTooLarge) && rec != nil {
		return "", fmt.Errorf("%w (%d MiB): its first %d MiB are kept as interrupted recording %s", errTooLarge, l.maxUploadMB, l.maxUploadMB, rec.ID)
	}
	if err != nil {
		return "", err
	}
	if l.policy == nil || rec.StartTime.IsZero() {
		return string(rec.State), nil
	}
	if err := l.arc.SetRetentionBase(ctx, rec.ID, rec.StartTime); err != nil {
		return "", err
	}
	rec.RetentionBase = rec.StartTime
	d, rule := l.policy.Deletion(rec)
	switch {
	case l.policy.Due(d):
		l.due++
		return fmt.Sprintf("%s; deleted at the next lifecycle run (%s, call of %s)", rec.State, ruleWords(l.policy, rule), rec.StartTime.Format(time.DateOnly)), nil
	case !d.IsZero():
		return fmt.Sprintf("%s; to be deleted automatically on %s (%s)", rec.State, d.Format(time.DateOnly), ruleWords(l.policy, rule)), nil
	}
	return string(rec.State), nil
}

// ruleWords names a lifecycle rule for the import's output.
func ruleWords(p *archive.Policy, rule archive.DeletionRule) string {
	if rule == archive.RuleRetention {
		return fmt.Sprintf("retention %d days", p.RetentionDays)
	}
	return "no recording seat"
}

type remoteImporter struct {
	c      *daemonClient
	prefix string
}

func (r *remoteImporter) has(ctx context.Context, sum [32]byte) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.c.base+"/api/v1/originals/"+hex.EncodeToString(sum[:]), nil)
	if err != nil {
		return false, err
	}
	resp, err := r.c.do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("checking for the capture: daemon answered %s", resp.Status)
}

func (r *remoteImporter) put(ctx context.Context, name string, body io.Reader, size int64) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, r.c.base+r.prefix+url.PathEscape(name), body)
	if err != nil {
		return "", err
	}
	req.ContentLength = size
	req.Header.Set(recorder.ImportHeader, "1")
	resp, err := r.c.do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	switch resp.StatusCode {
	case http.StatusUnsupportedMediaType:
		return "", errNotCapture
	case http.StatusRequestEntityTooLarge:
		return "", fmt.Errorf("%w: daemon answered %s: %s", errTooLarge, resp.Status, strings.TrimSpace(string(b)))
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("daemon answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var out struct{ State string }
	_ = json.Unmarshal(b, &out)
	return out.State, nil
}
