package recorder

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/readahead"
	"github.com/callvault/callvault/recinfo"
)

// Config configures ingest.
type Config struct {
	// Prefix is the URL path under which devices PUT captures, with a
	// trailing slash, e.g. "/recordings/Files/".
	Prefix string
	// NamePattern parses upload names; nil means DefaultNamePattern.
	NamePattern *regexp.Regexp
	// IdleTimeout ends an upload whose body sends nothing for this long.
	// There is no limit on an upload's total duration.
	IdleTimeout time.Duration
	// ReadCoalesce is how long a live upload's reads wait to gather data
	// after a short read (default 200 ms; negative disables).
	ReadCoalesce time.Duration
	// Now is the clock; nil means the archive's (arc.Now).
	Now func() time.Time
	// MaxUploadBytes bounds the bytes one upload stores: the body, or
	// for a gzip body what it decompresses to. An upload that goes beyond
	// keeps its first MaxUploadBytes as an interrupted recording and gets
	// 413. Zero means no limit.
	MaxUploadBytes int64
	// SpaceCheck, when set, is asked before a PUT's body is read; an
	// error (the disk holding the archive is below its minimum of free
	// space) refuses the upload with 507 and the error's text.
	SpaceCheck func() error
	// OnComplete, when set, is told of each recording an upload finished
	// (complete or interrupted), once it is sealed, before the upload's
	// answer. It must not block for long: it holds up that answer.
	OnComplete func(*archive.Recording)
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	if !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("recorder: ingest prefix %q must start and end with /", c.Prefix)
	}
	if c.IdleTimeout < 0 {
		return errors.New("recorder: negative idle timeout")
	}
	if c.MaxUploadBytes < 0 {
		return errors.New("recorder: negative upload size limit")
	}
	return nil
}

// Recorder turns uploaded captures into archived recordings.
type Recorder struct {
	arc  *archive.Archive
	cfg  Config
	log  *slog.Logger
	name *regexp.Regexp

	active sync.WaitGroup // uploads in progress
	stats  counters

	noInBand bool // no in-band DTMF detection without masking: benchmarks only

	liveMu sync.Mutex
	live   map[*liveUpload]struct{} // uploads that can be paused now

	exports exportQueue // export hashes to seal after the answer (exports_queue.go)
}

// Wait blocks until every upload in progress has been finished and
// sealed, and the export hashes of every sealed recording are sealed too.
func (r *Recorder) Wait() {
	r.active.Wait()
	r.waitExports()
}

// New returns a Recorder writing into arc.
func New(arc *archive.Archive, cfg Config, log *slog.Logger) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = arc.Now
	}
	if cfg.ReadCoalesce == 0 {
		cfg.ReadCoalesce = 200 * time.Millisecond
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	re := cfg.NamePattern
	if re == nil {
		re = regexp.MustCompile(DefaultNamePattern)
	}
	return &Recorder{arc: arc, cfg: cfg, log: log, name: re}, nil
}

// ErrBadName reports an upload name that cannot be stored.
var ErrBadName = errors.New("recorder: bad file name")

// ErrTooLarge reports an upload that stores more than
// Config.MaxUploadBytes. Its first MaxUploadBytes are kept as an
// interrupted recording.
var ErrTooLarge = errors.New("recorder: upload exceeds the size limit")

// maxNameLen bounds upload names (bytes).
const maxNameLen = 255

// CleanName checks an upload's file name: one path segment of printable
// UTF-8, at most 255 bytes.
func CleanName(name string) (string, error) {
	if name == "" || len(name) > maxNameLen || !utf8.ValidString(name) || name == "." || name == ".." {
		return "", ErrBadName
	}
	for _, r := range name {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return "", ErrBadName
		}
	}
	return name, nil
}

// Ingest stores one upload. body is read to its end and never held whole in
// memory; the original bytes go to the archive as they arrive and the
// capture is analysed on the way. A body that fails before its end (client
// gone, idle timeout) still gives a recording, in state interrupted. The
// returned recording is committed and sealed.
//
// Two failures also return the recording they leave, together with the
// error: an upload beyond Config.MaxUploadBytes (ErrTooLarge) keeps its
// first MaxUploadBytes, and an upload whose storage failed (a full disk:
// archive.ErrNoSpace) keeps what was committed before the failure; both
// are finished as interrupted at once and sealed (the archive keeps a
// reserve of disk space for this). When even that cannot be stored, the
// recording stays unfinished until the next start recovers it, and the
// returned recording is nil.
func (r *Recorder) Ingest(ctx context.Context, name string, body io.Reader) (*archive.Recording, error) {
	return r.ingest(ctx, name, body, uploadKind{})
}

// Import is Ingest for a capture callvault import stores: the recording
// is marked imported (archive.Recording.Imported), not a call a phone just
// recorded.
func (r *Recorder) Import(ctx context.Context, name string, body io.Reader) (*archive.Recording, error) {
	return r.ingest(ctx, name, body, uploadKind{imported: true})
}

// ImportHeader marks an upload over HTTP as callvault import's (any
// value): the recording is stored as Import stores it.
const ImportHeader = "Callvault-Import"

// uploadKind tells how an upload came.
type uploadKind struct {
	// live: a phone streaming the call as it goes on, which can be
	// paused and resumed (Pause).
	live bool
	// imported: callvault import's (Import).
	imported bool
}

// ingest is Ingest for an upload of kind.
func (r *Recorder) ingest(ctx context.Context, name string, body io.Reader, kind uploadKind) (*archive.Recording, error) {
	r.active.Add(1)
	defer r.active.Done()
	name, err := CleanName(name)
	if err != nil {
		return nil, r.refuse(err)
	}
	fn, _ := ParseFileName(r.name, name) // a name we cannot parse still records

	// Peek with a small buffer: the capture reader has its own, and memory
	// per open upload is what limits how many calls one appliance records.
	head := bufio.NewReaderSize(body, 512)
	var gzHash hash.Hash
	var plain io.Reader = head
	gzipped := false
	if magic, _ := head.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gzHash = sha256.New()
		zr, err := gzip.NewReader(io.TeeReader(head, gzHash))
		if err != nil {
			return nil, r.refuse(ErrNotCapture)
		}
		plain, gzipped = zr, true
	}
	br := bufio.NewReaderSize(plain, 512)
	ok, err := peekCapture(br)
	if err != nil {
		if gzipped {
			return nil, r.refuse(ErrNotCapture)
		}
		return nil, fmt.Errorf("recorder: read upload: %w", err)
	}
	if !ok {
		return nil, r.refuse(ErrNotCapture)
	}

	w, err := r.arc.Create(ctx, archive.NewRecording{
		FileName: name, CallGUID: fn.GUID, User: fn.User,
		Received: r.cfg.Now(), Gzip: gzipped, Imported: kind.imported,
	})
	if err != nil {
		r.stats.failed.Add(1)
		return nil, err
	}
	r.stats.uploads.Add(1)
	r.stats.open.Add(1)
	openCounted := true
	defer func() {
		if openCounted {
			r.stats.open.Add(-1)
		}
	}()
	log := r.log.With("recording", w.ID().String())
	log.Debug("upload started", "gzip", gzipped)

	var src io.Reader = br
	if r.cfg.MaxUploadBytes > 0 {
		src = &limitReader{r: br, left: r.cfg.MaxUploadBytes}
	}
	ow, ms := &originalWriter{w: w, n: &r.stats.bytes}, &mapSink{w: w}
	var sink io.Writer = ow
	opts := analyzeOpts{inband: !r.noInBand, mask: r.masks(ctx, fn.User)}
	if opts.mask || kind.live {
		// DTMF or a secure pause is masked in what is stored: the bytes
		// wait in hold until masking is done with them. Without DTMF
		// masking, a live upload holds nothing until a pause is asked
		// for (the pause covers what is read after that).
		if opts.mask {
			opts.hold = newHoldBuffer(ow, r.receivedKey())
		} else {
			opts.hold = newPassBuffer(ow, r.receivedKey(), w.OriginalDigest)
		}
		opts.hold.chunk = int64(w.ChunkSize())
		sink = opts.hold
		// The masking record of each chunk is committed with it, so that
		// recovery after a crash and salvage after a storage failure keep
		// it for the bytes they keep.
		opts.chunkNote = func(m *recinfo.Masking) {
			if b, err := json.Marshal(m); err == nil {
				w.NoteOriginal(b)
			}
		}
	}
	if kind.live {
		opts.live = r.addLive(w.ID(), fn.GUID, fn.User, opts.hold.engage)
		defer r.dropLive(opts.live)
	}
	hold := opts.hold
	tee := io.TeeReader(src, sink)
	a, readErr := analyze(tee, ms, opts)
	if storeErr := cmp.Or(ow.err, ms.err); storeErr != nil {
		openCounted = false
		r.stats.open.Add(-1)
		return r.salvage(ctx, w, storeErr)
	}
	state := archive.StateComplete
	tooLarge := errors.Is(readErr, ErrTooLarge)
	if readErr != nil {
		state = archive.StateInterrupted
		log.Warn("upload cut off; keeping what arrived", "err", readErr, "bytes", w.OriginalSize())
	}
	if a == nil {
		a = &Analysis{Result: &Result{}}
	}
	if tooLarge && a.Damage == "" {
		a.Damage = fmt.Sprintf("upload larger than the limit of %d bytes: the rest was not read", r.cfg.MaxUploadBytes)
	}
	final := archive.Final{State: state, StartTime: a.startTime(), DurationMs: a.durationMs(), Parties: a.parties()}
	if gzipped && readErr == nil {
		// The compressed stream's trailer may still be unread.
		if _, err := io.Copy(io.Discard, head); err == nil {
			final.GzipSHA256 = gzHash.Sum(nil)
		}
	}
	if hold != nil && a.Masking != nil {
		a.Masking.ReceivedHMAC = hex.EncodeToString(hold.receivedHMAC())
	}
	final.Info, err = json.Marshal(Info{
		Version: recinfo.Version, Name: fn, Result: a.Result, Spans: a.Spans,
		Entries: a.Entries, Truncated: a.Truncated, Damage: a.Damage, Masking: a.Masking,
	})
	if err != nil {
		return nil, err
	}
	// Finish even when the request's context is gone: what arrived is kept.
	// The seal goes into the same commit: the answer waits for one.
	fctx := context.WithoutCancel(ctx)
	final.SealDeferred = true
	rec, err := w.Finish(fctx, final)
	r.stats.open.Add(-1)
	openCounted = false
	if err != nil {
		// The final commit failed (a full disk): what was committed
		// before it is kept.
		return r.salvage(ctx, w, err)
	}
	r.stats.stored(state == archive.StateInterrupted, a.Result)
	if rec.Seal != nil {
		r.queueExports(rec.ID)
	} else if err := r.seal(fctx, rec); err != nil { // sealing is off, or was
		r.stats.failed.Add(1)
		return nil, err
	}
	log.Info("recording stored", "state", state, "bytes", rec.OrigSize,
		"calls", len(a.Result.Calls), "streams", len(a.Result.Streams))
	if rec.Seal == nil {
		rec, err = r.arc.Get(fctx, rec.ID)
	}
	if err == nil && r.cfg.OnComplete != nil {
		r.cfg.OnComplete(rec)
	}
	if err == nil && tooLarge {
		err = fmt.Errorf("recorder: %s: %w (%d bytes)", rec.ID, ErrTooLarge, r.cfg.MaxUploadBytes)
	}
	return rec, err
}

// masks reports whether an upload of user (the registration name its file
// name gives) is stored with its DTMF masked: the appliance setting, or
// the setting of a user whose login that is. A recording belongs to every
// user whose login equals its user ignoring case (archive.MayRead), so it
// is masked when any of them masks. When the settings or users cannot be
// read, it masks.
func (r *Recorder) masks(ctx context.Context, user string) bool {
	s, err := r.arc.Settings(ctx)
	if err != nil || s.MaskDTMF {
		return true
	}
	if user == "" {
		return false
	}
	users, err := r.arc.UsersFold(ctx, user)
	if err != nil {
		return true
	}
	for _, u := range users {
		if u.MaskDTMF {
			return true
		}
	}
	return false
}

// salvage finishes an upload whose storage failed, at once rather than at
// the next start: the chunks committed before the failure are kept,
// re-read like after a crash, finished as interrupted and sealed. It
// returns that recording (nil when even this could not be stored) with an
// error wrapping cause.
func (r *Recorder) salvage(ctx context.Context, w *archive.Writer, cause error) (*archive.Recording, error) {
	r.stats.failed.Add(1)
	ctx = context.WithoutCancel(ctx)
	id := w.ID()
	log := r.log.With("recording", id.String())
	log.Error("storing the upload failed; keeping what was committed", "err", cause)
	cause = fmt.Errorf("recorder: store %s: %w", id, cause)
	if err := w.Abort(ctx); err != nil {
		return nil, cause
	}
	rec, err := r.finishCommitted(ctx, id)
	if err != nil {
		log.Error("finishing the cut-off upload failed; the next start finishes it", "err", err)
		return nil, cause
	}
	log.Warn("upload kept as interrupted after a storage failure", "bytes", rec.OrigSize)
	if err := r.seal(ctx, rec); err != nil {
		// Finished and listed by Unsealed: sealed by the next backlog
		// run or start.
		log.Error("sealing the cut-off upload failed", "err", err)
	}
	if got, err := r.arc.Get(ctx, id); err == nil {
		rec = got
	}
	if r.cfg.OnComplete != nil {
		r.cfg.OnComplete(rec)
	}
	return rec, cause
}

// limitReader reads at most left bytes of r and then ErrTooLarge, unless r
// ends exactly there.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		for {
			n, err := l.r.Read(one[:])
			if n > 0 {
				return 0, ErrTooLarge
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// originalWriter and mapSink adapt an archive writer to io.Writer; they
// keep the archive's error, which tells a storage failure from a body
// that ended early.
type originalWriter struct {
	w   *archive.Writer
	n   *atomic.Uint64 // bytes stored, for Stats
	err error
}

func (o *originalWriter) Write(p []byte) (int, error) {
	n, err := o.w.WriteOriginal(p)
	o.n.Add(uint64(n))
	if err != nil && o.err == nil {
		o.err = err
	}
	return n, err
}

type mapSink struct {
	w   *archive.Writer
	err error
}

func (m *mapSink) Write(p []byte) (int, error) {
	n, err := m.w.WriteMap(p)
	if err != nil && m.err == nil {
		m.err = err
	}
	return n, err
}

// seal seals rec's original, map and metadata and queues its export
// hashes, which a background worker seals in a second chain entry
// (exports_queue.go): what the answer waits for is what must be durable.
func (r *Recorder) seal(ctx context.Context, rec *archive.Recording) error {
	if !r.arc.Sealing(ctx) {
		return nil // deferred; SealBacklog seals it once sealing is on
	}
	if err := r.arc.SealDeferred(ctx, rec.ID); err != nil {
		return fmt.Errorf("recorder: seal %s: %w", rec.ID, err)
	}
	r.queueExports(rec.ID)
	return nil
}

// Exports returns the SHA-256 of each call's canonical WAV (stereo, remote
// party left), rendered from the stored original and map. The seal signs
// them, so an exported WAV can be checked with the appliance's public key.
// For a recording whose seal (rec.Seal, as Verify passes it) was made by an
// earlier rendering rule, it returns that rule's exports when they match
// the seal (exports_rule.go).
func (r *Recorder) Exports(ctx context.Context, rec *archive.Recording) ([][32]byte, error) {
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		return nil, err
	}
	out, err := hashWAVs(len(in.Result.Calls), func(i int) (*codec.WAVReader, error) {
		return r.WAV(ctx, []*archive.Recording{rec}, i, codec.WAVOptions{})
	})
	if err != nil {
		return nil, err
	}
	return r.sealedRule(ctx, rec, in, out)
}

// hashConcurrently returns the SHA-256 of r, reading r in one goroutine
// and hashing in another, so rendering and hashing an export use two cores.
func hashConcurrently(r io.Reader) ([32]byte, error) {
	const size = 128 << 10
	full := make(chan []byte, 2)
	free := make(chan []byte, 3)
	for range 3 {
		free <- make([]byte, size)
	}
	var rerr error
	go func() {
		defer close(full)
		for {
			b := <-free
			n, err := io.ReadFull(r, b)
			if n > 0 {
				full <- b[:n]
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				rerr = err
				return
			}
		}
	}()
	h := sha256.New()
	for b := range full {
		h.Write(b)
		free <- b[:cap(b)]
	}
	if rerr != nil {
		return [32]byte{}, rerr
	}
	return [32]byte(h.Sum(nil)), nil
}

// ErrNoCall reports a call index a recording does not have.
var ErrNoCall = errors.New("recorder: no such call in the recording")

// WAV renders recordings as one PCM16 WAV: for each recording, call number
// call (0-based) of it, or with call < 0 every call in order; segments are
// joined in the order given.
func (r *Recorder) WAV(ctx context.Context, recs []*archive.Recording, call int, opt codec.WAVOptions) (*codec.WAVReader, error) {
	var segs []codec.Segment
	for _, rec := range recs {
		in, err := recinfo.Parse(rec.Info)
		if err != nil {
			return nil, err
		}
		calls := []int{call}
		if call < 0 {
			calls = calls[:0]
			for i := range in.Result.Calls {
				calls = append(calls, i)
			}
		} else if call >= len(in.Result.Calls) {
			return nil, ErrNoCall
		}
		if len(calls) == 0 {
			continue
		}
		orig, err := r.arc.OpenBlob(ctx, rec.ID, archive.BlobOriginal)
		if err != nil {
			return nil, err
		}
		mp, err := r.arc.OpenBlob(ctx, rec.ID, archive.BlobMap)
		if err != nil {
			return nil, err
		}
		for _, c := range calls {
			segs = append(segs, codec.Segment{Orig: orig, Map: mp, MapSize: mp.Size(), Layout: in.Result.Layout(c, in.Spans)})
		}
	}
	return codec.NewWAVReader(segs, opt)
}

// Segment returns call (0-based) of rec as a codec segment over its
// stored original and placement map, for audio joined by the caller
// (codec.NewWAVReader), such as calls with silence between them. A call
// the recording does not hold is ErrNoCall.
func (r *Recorder) Segment(ctx context.Context, rec *archive.Recording, call int) (codec.Segment, error) {
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		return codec.Segment{}, err
	}
	if call < 0 || call >= len(in.Result.Calls) {
		return codec.Segment{}, ErrNoCall
	}
	orig, err := r.arc.OpenBlob(ctx, rec.ID, archive.BlobOriginal)
	if err != nil {
		return codec.Segment{}, err
	}
	mp, err := r.arc.OpenBlob(ctx, rec.ID, archive.BlobMap)
	if err != nil {
		return codec.Segment{}, err
	}
	return codec.Segment{Orig: orig, Map: mp, MapSize: mp.Size(), Layout: in.Result.Layout(call, in.Spans)}, nil
}

// Recover finalizes what a crash left behind: uploads that were cut off are
// re-read from their committed bytes, finished as interrupted and sealed;
// finished recordings that were not yet sealed are sealed; recordings
// whose export hashes are due are queued for the background worker.
func (r *Recorder) Recover(ctx context.Context) error {
	ids, err := r.arc.Unfinished(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := r.recoverOne(ctx, id); err != nil {
			return fmt.Errorf("recorder: recover %s: %w", id, err)
		}
	}
	ids, err = r.arc.Unsealed(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		rec, err := r.arc.Get(ctx, id)
		if err != nil {
			return err
		}
		if err := r.seal(ctx, rec); err != nil {
			return err
		}
	}
	return r.recoverExports(ctx)
}

func (r *Recorder) recoverOne(ctx context.Context, id archive.ID) error {
	rec, err := r.finishCommitted(ctx, id)
	if err != nil {
		return err
	}
	r.log.Warn("recovered an upload cut off by an unclean stop", "recording", id.String(), "bytes", rec.OrigSize)
	return r.seal(ctx, rec)
}

// finishCommitted finishes an unfinished recording as interrupted from its
// committed original, rebuilding the map by reading it again.
func (r *Recorder) finishCommitted(ctx context.Context, id archive.ID) (*archive.Recording, error) {
	w, err := r.arc.Resume(ctx, id)
	if err != nil {
		return nil, err
	}
	rec, err := r.arc.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	orig, err := r.arc.OpenBlob(ctx, id, archive.BlobOriginal)
	if err != nil {
		return nil, err
	}
	fn, _ := ParseFileName(r.name, rec.FileName)
	a, err := Analyze(io.NewSectionReader(orig, 0, orig.Size()), &mapSink{w: w})
	if err != nil && a == nil {
		// Not even a capture header survived: keep the bytes, no audio.
		a = &Analysis{Result: &Result{}, Damage: err.Error()}
	} else if err != nil {
		_ = w.Abort(ctx)
		return nil, err
	}
	info, err := json.Marshal(Info{
		Version: recinfo.Version, Name: fn, Result: a.Result, Spans: a.Spans,
		Entries: a.Entries, Truncated: a.Truncated, Damage: a.Damage, Masking: committedMasking(w),
	})
	if err != nil {
		_ = w.Abort(ctx)
		return nil, err
	}
	rec, err = w.Finish(ctx, archive.Final{
		State: archive.StateInterrupted, StartTime: a.startTime(), DurationMs: a.durationMs(), Info: info,
		Parties: a.parties(),
	})
	if err != nil {
		_ = w.Abort(ctx)
		return nil, err
	}
	r.stats.stored(true, a.Result)
	return rec, nil
}

// committedMasking returns the masking record committed with the last
// chunk of a resumed recording's original (nil when it was not masked): the
// stored bytes are masked, and the record says so and keeps the keyed hash
// of the upload as received up to there.
func committedMasking(w *archive.Writer) *recinfo.Masking {
	note := w.Note()
	if note == nil {
		return nil
	}
	var m recinfo.Masking
	if err := json.Unmarshal(note, &m); err != nil {
		// Authenticated but unreadable: say the bytes were masked all the
		// same, without the spans.
		return &recinfo.Masking{Spans: []recinfo.MaskSpan{}}
	}
	return &m
}

// Handler serves PUT {Prefix}{name} for devices. Authentication is HTTP
// Basic with an account whose role is ingest or admin.
func (r *Recorder) Handler() http.Handler {
	return http.HandlerFunc(r.servePut)
}

type putResponse struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	CallID   string `json:"callId,omitempty"`
	Bytes    int64  `json:"bytes"`
	Location string `json:"location"`
}

func (r *Recorder) servePut(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPut {
		w.Header().Set("Allow", "PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	login, pass, ok := req.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="callvault ingest", charset="UTF-8"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	u, err := r.arc.Authenticate(req.Context(), archive.ClientAddr(req.RemoteAddr), login, pass)
	var le *archive.LimitedError
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", strconv.Itoa(le.RetrySeconds()))
		http.Error(w, "too many failed attempts; retry later", http.StatusTooManyRequests)
		return
	}
	if err != nil || (u.Role != archive.RoleIngest && u.Role != archive.RoleAdmin) {
		r.log.Info("ingest refused", "login", login, "remote", req.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Basic realm="callvault ingest", charset="UTF-8"`)
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	raw := strings.TrimPrefix(req.URL.EscapedPath(), r.cfg.Prefix)
	name, err := url.PathUnescape(raw)
	if err == nil {
		name, err = CleanName(name)
	}
	if err != nil || raw == req.URL.EscapedPath() {
		http.Error(w, "bad file name: one path segment of printable UTF-8, at most 255 bytes", http.StatusBadRequest)
		return
	}
	// Refuse what cannot be stored before reading the body: a client
	// that sent "Expect: 100-continue" then does not send it at all.
	if r.cfg.SpaceCheck != nil {
		if err := r.cfg.SpaceCheck(); err != nil {
			r.stats.refused.Add(1)
			r.log.Warn("upload refused: disk almost full", "err", err)
			http.Error(w, "insufficient storage: "+err.Error(), http.StatusInsufficientStorage)
			return
		}
	}
	if limit := r.cfg.MaxUploadBytes; limit > 0 && req.ContentLength > limit {
		r.stats.refused.Add(1)
		http.Error(w, fmt.Sprintf("upload too large: %d bytes, the limit is %d", req.ContentLength, limit), http.StatusRequestEntityTooLarge)
		return
	}
	body := &idleBody{body: req.Body, rc: http.NewResponseController(w), idle: r.cfg.IdleTimeout, coalesce: r.cfg.ReadCoalesce,
		conn: drainerOf(req), h2: req.ProtoMajor == 2}
	// A body without a length is a phone streaming the call as it goes on:
	// it can be paused.
	kind := uploadKind{live: req.ContentLength < 0, imported: req.Header.Get(ImportHeader) != ""}
	rec, err := r.ingest(req.Context(), name, body, kind)
	kept := ""
	if rec != nil {
		kept = "; what arrived is kept as interrupted recording " + rec.ID.String()
	}
	switch {
	case errors.Is(err, ErrNotCapture):
		http.Error(w, "not a pcap or pcapng capture (gzip of either is fine)", http.StatusUnsupportedMediaType)
		return
	case errors.Is(err, ErrBadName):
		http.Error(w, "bad file name", http.StatusBadRequest)
		return
	case errors.Is(err, ErrTooLarge):
		http.Error(w, fmt.Sprintf("upload too large: the limit is %d bytes%s", r.cfg.MaxUploadBytes, kept), http.StatusRequestEntityTooLarge)
		return
	case errors.Is(err, archive.ErrNoSpace):
		http.Error(w, "insufficient storage: the disk holding the archive is full"+kept, http.StatusInsufficientStorage)
		return
	case err != nil:
		r.log.Error("ingest failed", "name_len", len(name), "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	loc := "/api/v1/recordings/" + rec.ID.String()
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(putResponse{
		ID: rec.ID.String(), State: string(rec.State), CallID: rec.CallGUID, Bytes: rec.OrigSize, Location: loc,
	})
}

// idleBody ends an upload whose body sends nothing for idle, however long
// the upload as a whole takes. It also paces reads of live uploads: a phone
// streaming a call sends a packet or two every 20 ms, and reading each as it
// comes costs a system call and a wake-up per packet. After a short read it
// waits coalesce before reading again, so the kernel's socket buffer
// gathers the next few hundred milliseconds and one read takes them all.
//
// On a connection that tells whether its socket is drained
// (readahead.Conn), a read is short when it left the socket drained and
// what it and the reads before it gathered since the socket was last
// drained came slower than liveRate: a live upload. Its gathered data come
// in several reads, since net/http reads a chunked body 4 KiB at a time,
// and the read after them would park until the next packet. The socket
// counts as drained anew only after a system call read from it: data
// buffered above the socket (in net/http's reader, or a record crypto/tls
// holds) is read without pausing. Elsewhere (HTTP/2, whose streams share
// a connection; servers without readahead) a read is short when it brings
// less than liveReadSize and what came since the last short read came
// slower than liveRate. Bulk uploads fill their reads or come faster, and
// are not slowed. Before a pause the connection is told (Quiet), so that
// the packets arriving meanwhile do not each wake the runtime's poller.
type idleBody struct {
	body     io.Reader
	rc       *http.ResponseController
	idle     time.Duration
	coalesce time.Duration
	conn     drainer   // the upload's connection, when it tells
	short    bool      // the last read was short: pause before the next
	drained  time.Time // when a read last left the socket drained (or was short)
	reads    uint64    // the connection's system calls by then
	gathered int       // bytes read since
	deadline time.Time // read deadline last set
	// h2: the upload is an HTTP/2 stream, whose read deadline, once run
	// out, closes the body even while nobody reads it (net/http's HTTP/2
	// server): the deadline then runs only during a read, so a pause of
	// the server's own (a busy disk) never cuts off an upload.
	h2 bool
}

// drainer is a connection that tells whether its socket was drained by
// its last system call, and counts those calls; told that its reader
// pauses (Quiet), it keeps the packets of the pause from each waking the
// runtime's poller (readahead.Conn).
type drainer interface {
	Drained() bool
	Reads() uint64
	Quiet()
}

const (
	// liveReadSize is the read length below which an upload counts as live
	// on a connection that does not tell whether it is drained.
	liveReadSize = 2048
	// liveRate (bytes a second) is the rate below which an upload counts
	// as live: 2 Mbit/s, ten times a G.711 call's two directions. What it
	// gathers in a pause (51 KiB in 200 ms) fits in a socket's receive
	// buffer, so the sender never waits for the pause to end.
	liveRate = 256 << 10
)

// drainerOf returns the connection req arrived on, when it tells whether
// its socket is drained, or nil. An HTTP/2 request shares its connection
// with others, whose data the socket's state says nothing about.
func drainerOf(req *http.Request) drainer {
	if c := readahead.FromContext(req.Context()); c != nil && req.ProtoMajor == 1 {
		return c
	}
	return nil
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.short && b.coalesce > 0 {
		if b.conn != nil {
			b.conn.Quiet() // no wake-ups for the packets of the pause
		}
		time.Sleep(b.coalesce)
	}
	switch now := time.Now(); {
	case b.h2:
		_ = b.rc.SetReadDeadline(now.Add(b.idle))
	case b.deadline.Sub(now) < b.idle*3/4:
		// Move the deadline only when a good part of it is used up:
		// setting it costs a timer update per read. Over HTTP/1 a
		// deadline that runs out between reads does no harm.
		b.deadline = now.Add(b.idle)
		_ = b.rc.SetReadDeadline(b.deadline)
	}
	n, err := b.body.Read(p)
	if b.h2 {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	b.short = false
	if err != nil || len(p) < liveReadSize {
		return n, err
	}
	b.gathered += n
	switch {
	case b.conn != nil:
		// A read that filled p may have left data in net/http's buffer;
		// one that made no system call since the socket was last seen
		// drained was served from a buffer above it.
		if n < len(p) && b.conn.Drained() {
			if reads := b.conn.Reads(); reads != b.reads {
				b.reads = reads
				b.short = b.slow(false)
			}
		}
	case n < liveReadSize:
		b.short = b.slow(true)
	}
	return n, err
}

// slow reports whether what the upload gathered since the last mark came
// slower than liveRate (unmarked: whether first says so), and marks now.
func (b *idleBody) slow(first bool) bool {
	now := time.Now()
	slow := first
	if !b.drained.IsZero() {
		slow = float64(b.gathered) < liveRate*now.Sub(b.drained).Seconds()
	}
	b.drained, b.gathered = now, 0
	return slow
}

// parties returns the distinct numbers and display names of the calls'
// From and To, in order of appearance, within the archive's limits.
func (a *Analysis) parties() []string {
	if a == nil || a.Result == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range a.Result.Calls {
		for _, s := range []string{c.From.Number, c.From.Name, c.To.Number, c.To.Name} {
			s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
			if s == "" || len(s) > archive.MaxPartyLen || seen[s] || len(out) == archive.MaxParties {
				continue
			}
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
