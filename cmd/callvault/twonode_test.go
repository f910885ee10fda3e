package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/kv/pgkv"
	"github.com/callvault/callvault/internal/servertest"
	"github.com/callvault/callvault/internal/testchild"
	"github.com/callvault/callvault/internal/testclock"
)

// Two daemons on one archive: each has its own data directory and its
// own clock, both have the same key file (beside their data
// directories) and the same [storage], a PostgreSQL database and an S3
// bucket on real servers started by the test. The tests skip loudly
// without the servers and fail under CI=true.

// pgStorage is a database and a bucket for the archive, and a config
// file whose [storage] names them.
type pgStorage struct {
	conf      string
	endpoint  string // the S3 gateway's
	bucketDir string // the gateway's directory of the bucket: its objects are files
}

// startPostgresStorage starts PostgreSQL and the S3 gateway, makes a
// database and a bucket and writes the config file (the S3 keys in
// files in dir). dbPassword, when set, goes into the database URL.
func startPostgresStorage(t *testing.T, dir, dbPassword string) pgStorage {
	t.Helper()
	pg := servertest.StartPostgres(t)
	gw := servertest.StartS3(t)
	dbURL := pg.NewDatabase(t)
	if dbPassword != "" {
		dbURL = strings.Replace(dbURL, "postgres@", "postgres:"+dbPassword+"@", 1)
	}
	const bucket = "callvault-chunks"
	// The gateway's POSIX backend: a directory of its root is a bucket.
	if err := os.Mkdir(filepath.Join(gw.Dir, bucket), 0o700); err != nil {
		t.Fatal(err)
	}
	access, secret := filepath.Join(dir, "s3.access"), filepath.Join(dir, "s3.secret")
	os.WriteFile(access, []byte(gw.AccessKey+"\n"), 0o600)
	os.WriteFile(secret, []byte(gw.SecretKey+"\n"), 0o600)
	conf := writeConfig(t, fmt.Sprintf(`[storage]
backend = "postgres+s3"
postgres_url = %q
s3_endpoint = %q
s3_bucket = %q
s3_access_key_file = %q
s3_secret_key_file = %q
`, dbURL, gw.Endpoint, bucket, access, secret))
	return pgStorage{conf: conf, endpoint: gw.Endpoint, bucketDir: filepath.Join(gw.Dir, bucket)}
}

// via returns a config file of the same storage that reaches S3 through
// endpoint.
func (s pgStorage) via(t *testing.T, endpoint string) string {
	t.Helper()
	b, err := os.ReadFile(s.conf)
	if err != nil {
		t.Fatal(err)
	}
	return writeConfig(t, strings.Replace(string(b), fmt.Sprintf("%q", s.endpoint), fmt.Sprintf("%q", endpoint), 1))
}

// holdingProxy passes requests on to the S3 gateway. Once armed, it
// passes on the next object PUTs but never answers them, reporting each
// object written: a daemon killed then has objects in S3 that its
// transaction, still waiting for the answer, never committed.
type holdingProxy struct {
	rp    *httputil.ReverseProxy
	armed atomic.Bool
	held  chan string // the paths of the objects written and not answered
}

func startHoldingProxy(t *testing.T, endpoint string) (*holdingProxy, string) {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// The request keeps its Host header, which its signature covers.
	p := &holdingProxy{rp: httputil.NewSingleHostReverseProxy(target), held: make(chan string, 64)}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *holdingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.armed.Load() || r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/kv/") {
		p.rp.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
	if rec.Code == http.StatusOK {
		select {
		case p.held <- r.URL.Path:
		default:
		}
	}
	<-r.Context().Done() // the daemon is killed
}

func (s pgStorage) withConfig(o *serveOptions) { o.config = s.conf }

// openStore opens the archive's store as a daemon does, with now as the
// clock Sweep measures by.
func (s pgStorage) openStore(t *testing.T, now func() time.Time) *pgkv.Store {
	t.Helper()
	cfg, err := loadConfig(s.conf)
	if err != nil {
		t.Fatal(err)
	}
	po, err := cfg.Storage.pgkvOptions()
	if err != nil {
		t.Fatal(err)
	}
	po.Now = now
	dsn, _ := cfg.Storage.postgresURL()
	store, err := pgkv.Open(t.Context(), dsn, po)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// objectFiles lists the objects in the bucket, by name.
func (s pgStorage) objectFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(s.bucketDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(s.bucketDir, p)
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// streamUpload sends a capture as a phone streams a live call: in small
// pieces, without a length. It may run on any goroutine.
func streamUpload(d *daemon, name string, body []byte) (code int, id string, err error) {
	req, err := http.NewRequest(http.MethodPut, d.url+"/recordings/Files/"+name,
		&slowReader{r: bytes.NewReader(body), piece: 8 << 10, pause: 5 * time.Millisecond})
	if err != nil {
		return 0, "", err
	}
	req.SetBasicAuth("ingest", testIngestPassword)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var m struct{ ID string }
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &m)
	return resp.StatusCode, m.ID, nil
}

// waitListed waits until d lists every one of ids sealed.
func waitListed(t *testing.T, d *daemon, ids []string) map[string]listedRecording {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := d.recordings(t)
		var missing []string
		for _, id := range ids {
			if !got[id].Sealed {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not list %d of the %d recordings sealed: %q\n%s", d.url, len(missing), len(ids), missing, d.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustPlay plays id as WAV on d: two channels of at least seconds.
func mustPlay(t *testing.T, d *daemon, id string, seconds int) {
	t.Helper()
	resp, wav := d.get(t, "/api/v1/recordings/"+id+"/audio.wav")
	if resp.StatusCode != 200 {
		t.Fatalf("%s: WAV of %s: %s %.200s", d.url, id, resp.Status, wav)
	}
	ch := wavSamples(t, wav)
	if len(ch) != 2 || len(ch[0]) < seconds*8000 {
		t.Fatalf("%s: WAV of %s: %d channels, %d samples; want 2 of %d s", d.url, id, len(ch), len(ch[0]), seconds)
	}
}

// chainState is the seal chain as the verify API reports it.
type chainState struct {
	Valid                      bool
	Problems                   []string
	Entries, Seals, Tombstones int
	HeadSeq                    uint64
	Head                       string
}

// mustVerifyChainOn verifies the whole chain on d: valid, and its
// entries numbered 1 to headSeq without a gap.
func mustVerifyChainOn(t *testing.T, d *daemon) chainState {
	t.Helper()
	var c chainState
	d.getJSON(t, "/api/v1/seal/verify", &c)
	if !c.Valid || len(c.Problems) != 0 || uint64(c.Entries) != c.HeadSeq {
		t.Fatalf("%s: seal chain: %+v", d.url, c)
	}
	return c
}

// TestTwoNodesUploads: ten streaming uploads to each of two daemons at
// once; every one answered 201 is listed sealed and plays on both
// daemons, listed by the other as soon as one lists them; the seal chain verifies on both, one chain with contiguous
// sequence numbers, and `callvault verify` passes it whole once the
// daemons stopped.
func TestTwoNodesUploads(t *testing.T) {
	dir := t.TempDir()
	st := startPostgresStorage(t, dir, "")
	nodes := []*daemon{
		startDaemonWith(t, filepath.Join(dir, "a"), st.withConfig),
		startDaemonWith(t, filepath.Join(dir, "b"), st.withConfig),
	}
	const perNode, seconds = 10, 4
	type result struct {
		code int
		id   string
		err  error
	}
	results := make(chan result, len(nodes)*perNode)
	var wg sync.WaitGroup
	for n, d := range nodes {
		for i := range perNode {
			wg.Go(func() {
				body := synthPcap(synthCall{seconds: seconds, callID: fmt.Sprintf("two-%d-%d@pbx", n, i),
					from: synthParty{"Alice", "alice"}, to: synthParty{"Bob", "bob"}})
				name := fmt.Sprintf("%030x%02d-009033302ab1-11--alice.pcap", n+1, i)
				code, id, err := streamUpload(d, name, body)
				results <- result{code, id, err}
			})
		}
	}
	wg.Wait()
	close(results)
	var ids []string
	for r := range results {
		if r.err != nil || r.code != http.StatusCreated || r.id == "" {
			t.Errorf("upload: %d %q %v", r.code, r.id, r.err)
			continue
		}
		ids = append(ids, r.id)
	}
	if len(ids) != len(nodes)*perNode {
		t.Fatalf("%d uploads answered 201, want %d", len(ids), len(nodes)*perNode)
	}
	// Once one node lists them all sealed, the other does too, at once.
	waitListed(t, nodes[0], ids)
	listed := nodes[1].recordings(t)
	for _, id := range ids {
		if !listed[id].Sealed {
			t.Errorf("listed sealed on one node, not at once on the other: %s %+v", id, listed[id])
		}
	}
	for _, id := range ids {
		for _, d := range nodes {
			mustPlay(t, d, id, seconds-1)
			d.mustVerify(t, id)
		}
	}
	a, b := mustVerifyChainOn(t, nodes[0]), mustVerifyChainOn(t, nodes[1])
	if a.Seals < len(ids) || a.HeadSeq != b.HeadSeq || a.Head != b.Head {
		t.Fatalf("chains: %+v on one node, %+v on the other; want one chain of at least %d seals", a, b, len(ids))
	}
	for _, d := range nodes {
		d.stop()
	}
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"verify", "--config", st.conf, "--data", filepath.Join(dir, "c"), "--key-file", filepath.Join(dir, "callvault.key")}, &out, &errOut)
	if err != nil {
		t.Fatalf("callvault verify: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	t.Logf("callvault verify:\n%s", out.String())
}

// twoNodeChildEnv carries the settings of TestTwoNodesChild.
const twoNodeChildEnv = "CALLVAULT_TEST_TWONODE_CHILD"

type twoNodeChild struct {
	Conf, Data, Key string
	Epoch           time.Time // the child's clock starts here
}

// TestTwoNodesChild is the daemon TestTwoNodesKill9 kills: serve on its
// own clock, in a process of its own, until killed.
func TestTwoNodesChild(t *testing.T) {
	env := os.Getenv(twoNodeChildEnv)
	if env == "" {
		t.Skip("child process of TestTwoNodesKill9")
	}
	var c twoNodeChild
	if err := json.Unmarshal([]byte(env), &c); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	o := serveOptions{config: c.Conf, data: c.Data, listen: "127.0.0.1:0", keyFile: c.Key,
		now:   func() time.Time { return c.Epoch.Add(time.Since(t0)) },
		ready: func(addr string) { fmt.Printf("listening %s\n", addr) }}
	err := serve(context.Background(), o, os.Stderr, os.Stderr)
	t.Fatalf("serve returned: %v", err)
}

// startChildDaemon starts TestTwoNodesChild in a process of its own, on
// a clock that starts at epoch.
func startChildDaemon(t *testing.T, st pgStorage, data, key string, epoch time.Time) (*daemon, *exec.Cmd) {
	t.Helper()
	v, _ := json.Marshal(twoNodeChild{Conf: st.conf, Data: data, Key: key, Epoch: epoch})
	cmd := testchild.Command("TestTwoNodesChild", twoNodeChildEnv+"="+string(v),
		"CALLVAULT_ADMIN_PASSWORD="+testAdminPassword, "CALLVAULT_INGEST_PASSWORD="+testIngestPassword)
	cmd.Args = append(cmd.Args, "-test.timeout=30m")
	out := &syncBuffer{}
	cmd.Stderr = out
	sc := testchild.Start(t, cmd)
	addr := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("the child daemon ended before listening:\n%s", out)
		}
		return &daemon{url: "http://" + a, data: data, key: key, out: out, stop: func() {}}, cmd
	case <-time.After(time.Minute):
		t.Fatalf("the child daemon does not listen after a minute:\n%s", out)
	}
	return nil, nil
}

// metricNow reads one series of d's metrics.
func metricNow(t *testing.T, d *daemon, series string) float64 {
	t.Helper()
	resp, body := d.get(t, "/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %s", resp.Status)
	}
	return metricValue(t, string(body), series)
}

// TestTwoNodesKill9: of two daemons on one archive, one is killed with
// SIGKILL in the middle of a streaming upload. Every recording answered
// 201 before, on either node, is listed and plays on the other; Sweep
// (on a clock of its own, past its grace period) removes every object
// that no row references, after which the bucket holds exactly the
// objects the store accounts for; the killed node, restarted, serves
// and keeps what its cut-off upload committed, as an interrupted
// recording that plays on both nodes.
func TestTwoNodesKill9(t *testing.T) {
	dir := t.TempDir()
	st := startPostgresStorage(t, dir, "")
	key := filepath.Join(dir, "callvault.key")
	dataA, dataB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a := startDaemonWith(t, dataA, st.withConfig)
	// b reaches S3 through a proxy that can hold its PUTs' answers.
	proxy, proxyURL := startHoldingProxy(t, st.endpoint)
	b, cmd := startChildDaemon(t, pgStorage{conf: st.via(t, proxyURL)}, dataB, key, daemonClock(dataA)())

	var ids []string
	for i, d := range []*daemon{a, b, a, b, b} {
		id := d.ingestSynth(t, fmt.Sprintf("%030x%02d", 0xa1, i), "alice", synthCall{seconds: 3, callID: fmt.Sprintf("k-%d@pbx", i),
			from: synthParty{"Alice", "alice"}, to: synthParty{"Bob", "bob"}})
		ids = append(ids, id)
	}

	// A long call streams to b; once a few chunks of it are committed,
	// the proxy holds the answers to b's next object PUTs, and b is
	// killed with an object of a transaction it never committed in S3.
	capture := synthPcap(synthCall{seconds: 120, callID: "killed@pbx", from: synthParty{"Alice", "alice"}, to: synthParty{"Bob", "bob"}})
	base := metricNow(t, b, "callvault_commit_bytes_total")
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, b.url+"/recordings/Files/00000000000000000000000000000a99-009033302ab1-11--alice.pcap", pr)
	req.SetBasicAuth("ingest", testIngestPassword)
	go func() {
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	const sent = 600_000
	if _, err := pw.Write(capture[:sent]); err != nil {
		t.Fatal(err)
	}
	waitMetricAtLeast(t, b.url, "callvault_commit_bytes_total", base+float64(sent/archive.ChunkSize*archive.ChunkSize))
	proxy.armed.Store(true)
	var streaming sync.WaitGroup
	streaming.Go(func() {
		for off := sent; off < len(capture); off += 16 << 10 {
			if _, err := pw.Write(capture[off:min(off+16<<10, len(capture))]); err != nil {
				return
			}
		}
	})
	var heldObject string
	select {
	case p := <-proxy.held:
		heldObject = p[strings.Index(p, "/kv/")+1:]
	case <-time.After(time.Minute):
		t.Fatalf("b wrote no object in a minute of streaming\n%s", b.out)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	pw.CloseWithError(io.ErrClosedPipe)
	streaming.Wait()

	waitListed(t, a, ids)
	for _, id := range ids {
		mustPlay(t, a, id, 2)
		a.mustVerify(t, id)
	}
	mustVerifyChainOn(t, a)

	// The orphans: objects of the killed upload that no row names. Sweep
	// sees them on its first run and removes them on the next, its grace
	// period later by its clock; the released objects are older than the
	// grace period already.
	if !slices.Contains(st.objectFiles(t), heldObject) {
		t.Fatalf("the object %s b wrote before it was killed is not in the bucket", heldObject)
	}
	clock := testclock.New(daemonClock(dataA)().Add(24 * time.Hour))
	store := st.openStore(t, clock.Now)
	const grace = time.Hour
	released, err := store.Sweep(t.Context(), grace)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * grace)
	orphans, err := store.Sweep(t.Context(), grace)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Sweep removed %d released objects, then %d orphaned ones", released, orphans)
	refs, err := store.Referenced(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(refs)
	if orphans == 0 || slices.Contains(refs, heldObject) || slices.Contains(st.objectFiles(t), heldObject) {
		t.Fatalf("the object %s of the killed transaction: %d orphans removed, referenced %v", heldObject, orphans, slices.Contains(refs, heldObject))
	}
	if files := st.objectFiles(t); !slices.Equal(files, refs) {
		t.Fatalf("after Sweep the bucket holds %d objects, the store accounts for %d:\nonly in the bucket %q\nonly referenced %q",
			len(files), len(refs), without(files, refs), without(refs, files))
	}

	// The killed node, restarted, serves; its cut-off upload is kept as
	// interrupted, on both nodes.
	b = startDaemonWith(t, dataB, st.withConfig)
	var cut string
	deadline := time.Now().Add(time.Minute)
	for cut == "" {
		for id, r := range b.recordings(t) {
			if !slices.Contains(ids, id) && r.State == "interrupted" && r.Sealed {
				cut = id
			}
		}
		if cut == "" && time.Now().After(deadline) {
			t.Fatalf("the restarted node lists no interrupted recording: %+v\n%s", b.recordings(t), b.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	all := append(slices.Clone(ids), cut)
	for _, d := range []*daemon{a, b} {
		got := waitListed(t, d, all)
		if len(got) != len(all) {
			t.Fatalf("%s lists %d recordings, want %d", d.url, len(got), len(all))
		}
		mustPlay(t, d, cut, 10)
		for _, id := range ids {
			mustPlay(t, d, id, 2)
		}
	}
	if ca, cb := mustVerifyChainOn(t, a), mustVerifyChainOn(t, b); ca.Head != cb.Head {
		t.Fatalf("chains differ: %+v, %+v", ca, cb)
	}
}

// without returns the names of a not in b.
func without(a, b []string) []string {
	var out []string
	for _, n := range a {
		if !slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}

// nodeClock is a daemon's clock: daemonEpoch, moving on with real time,
// moved forward by Add.
type nodeClock struct {
	t0     time.Time
	offset atomic.Int64
}

func newNodeClock() *nodeClock { return &nodeClock{t0: time.Now()} }

func (c *nodeClock) Now() time.Time {
	return daemonEpoch.Add(time.Since(c.t0) + time.Duration(c.offset.Load()))
}

func (c *nodeClock) Add(d time.Duration) { c.offset.Add(int64(d)) }

// TestTwoNodesRetention: with a retention of one day, both daemons,
// started at once three days later by their clocks, run the lifecycle
// job at once (one may find the other's run going and skip); each
// recording past retention is deleted exactly once:
// one lifecycle.delete in the audit log and one tombstone each, and
// neither node lists it any more.
func TestTwoNodesRetention(t *testing.T) {
	dir := t.TempDir()
	st := startPostgresStorage(t, dir, "")
	dataA, dataB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	clocks := []*nodeClock{newNodeClock(), newNodeClock()}
	runs := []chan archive.ExpireResult{make(chan archive.ExpireResult, 16), make(chan archive.ExpireResult, 16)}
	tweak := func(n int) func(*serveOptions) {
		return func(o *serveOptions) {
			st.withConfig(o)
			o.now = clocks[n].Now
			o.lifecycleRan = func(r archive.ExpireResult) {
				select {
				case runs[n] <- r:
				default:
				}
			}
		}
	}
	a := startDaemonWith(t, dataA, tweak(0))
	b := startDaemonWith(t, dataB, tweak(1))
	admin := "admin:" + testAdminPassword
	a.apiWant(t, admin, "POST", "/api/v1/users", map[string]any{"login": "alice", "password": "alice-password-1", "seat": true, "extensions": []string{"201"}}, 201)
	var ids []string
	for i, d := range []*daemon{a, b, a, b, a, b} {
		ids = append(ids, d.ingestSynth(t, fmt.Sprintf("%030x%02d", 0xe1, i), "alice", synthCall{seconds: 1, callID: fmt.Sprintf("r-%d@pbx", i),
			from: synthParty{"Alice", "201"}, to: synthParty{"Bob", "202"}}))
	}
	waitListed(t, a, ids)
	waitListed(t, b, ids)
	b.apiWant(t, admin, "PATCH", "/api/v1/settings", map[string]any{"retentionDays": 1}, 200)
	for n, d := range []*daemon{a, b} {
		d.stop()
		clocks[n].Add(3 * 24 * time.Hour)
		for len(runs[n]) > 0 {
			<-runs[n]
		}
	}

	waitA, waitB := launchDaemon(t, dataA, tweak(0)), launchDaemon(t, dataB, tweak(1))
	a, b = waitA(t), waitB(t)
	// Each daemon's run at start either ran or found the other's running
	// and skipped (it then reports no result, and logs it).
	var removed, skipped int
	for n, d := range []*daemon{a, b} {
		deadline := time.Now().Add(2 * time.Minute)
	wait:
		for {
			select {
			case r := <-runs[n]:
				if r.Failed != 0 {
					t.Errorf("%s: lifecycle run %+v", d.url, r)
				}
				removed += r.Removed()
				break wait
			case <-time.After(50 * time.Millisecond):
			}
			if strings.Contains(d.out.String(), "lifecycle run skipped") {
				skipped++
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no lifecycle run at start\n%s", d.url, d.out)
			}
		}
	}
	t.Logf("lifecycle at start: %d recordings removed, %d of the two runs skipped", removed, skipped)
	if removed != len(ids) {
		t.Errorf("the two lifecycle runs removed %d recordings, want %d", removed, len(ids))
	}
	for _, d := range []*daemon{a, b} {
		m := d.apiWant(t, admin, "GET", "/api/v1/audit?action=lifecycle.delete", nil, 200)
		evs, _ := m["events"].([]any)
		seen := map[string]int{}
		for _, e := range evs {
			ev, _ := e.(map[string]any)
			seen[fmt.Sprint(ev["target"])]++
		}
		if len(evs) != len(ids) || len(seen) != len(ids) {
			t.Errorf("%s: %d lifecycle.delete events for %d targets, want one for each of %d recordings: %v", d.url, len(evs), len(seen), len(ids), seen)
		}
		if got := d.recordings(t); len(got) != 0 {
			t.Errorf("%s still lists %d recordings", d.url, len(got))
		}
		if c := mustVerifyChainOn(t, d); c.Tombstones != len(ids) {
			t.Errorf("%s: %d tombstones, want %d", d.url, c.Tombstones, len(ids))
		}
	}
}

// twoNodes starts two daemons on one new archive on PostgreSQL + S3.
func twoNodes(t *testing.T) (a, b *daemon) {
	t.Helper()
	dir := t.TempDir()
	st := startPostgresStorage(t, dir, "")
	return startDaemonWith(t, filepath.Join(dir, "a"), st.withConfig), startDaemonWith(t, filepath.Join(dir, "b"), st.withConfig)
}

// on returns c's session (its cookie jar) sent to d.
func on(c *uiClient, d *daemon) *uiClient {
	return &uiClient{d: d, c: c.c, login: c.login, pass: c.pass}
}

func twoNodePassword(login string) string { return "pw-" + login + "-0123456789" }

// TestTwoNodesSessions: whichever node a request reaches, a session
// made by logging in on one node works on the other; a user deleted on
// one node is refused on the other at once, by password and by session.
func TestTwoNodesSessions(t *testing.T) {
	a, b := twoNodes(t)
	adminA := a.uiLogin(t, "admin", testAdminPassword)
	if resp, body := on(adminA, b).get(t, "/api/v1/recordings"); resp.StatusCode != 200 {
		t.Errorf("a session made on one node, on the other: %s %.200s", resp.Status, body)
	}
	pw := twoNodePassword
	adminA.createUser(t, "zed", pw("zed"), "user", nil)
	zedB := b.uiLogin(t, "zed", pw("zed"))
	if code, m := b.apiCall(t, "zed:"+pw("zed"), "GET", "/api/v1/recordings", nil); code != 200 {
		t.Fatalf("zed on b: %d %v", code, m)
	}
	if resp, _ := zedB.get(t, "/api/v1/recordings"); resp.StatusCode != 200 {
		t.Fatalf("zed's session on b: %d", resp.StatusCode)
	}
	if code, m := a.apiCall(t, "admin:"+testAdminPassword, "DELETE", "/api/v1/users/zed", nil); code != 200 && code != 204 {
		t.Fatalf("delete zed on a: %d %v", code, m)
	}
	if code, _ := b.apiCall(t, "zed:"+pw("zed"), "GET", "/api/v1/recordings", nil); code != 401 {
		t.Errorf("zed deleted on a, by password on b: %d, want 401", code)
	}
	if resp, _ := zedB.get(t, "/api/v1/recordings"); resp.StatusCode != 401 {
		t.Errorf("zed deleted on a, by session on b: %d, want 401", resp.StatusCode)
	}
}

// TestTwoNodesFourEyes: a 4-eyes grant a supervisor approves on one node
// lets the user play on the other.
func TestTwoNodesFourEyes(t *testing.T) {
	a, b := twoNodes(t)
	adminA := a.uiLogin(t, "admin", testAdminPassword)
	pw := twoNodePassword
	adminA.createUser(t, "alice", pw("alice"), "user", url.Values{"extensions": {"201"}})
	adminA.createUser(t, "sam", pw("sam"), "supervisor", nil)
	adminA.createUser(t, "eve", pw("eve"), "user", url.Values{"accessList": {"alice"}, "supervisor": {"sam"}})
	rec := a.ingestSynth(t, "eeeeeeeeeeeeeeeeeeeeeeeeeeee0001", "alice", synthCall{seconds: 3, callID: "fe@pbx",
		from: synthParty{"Alice", "201"}, to: synthParty{"Bob", "5550100"}})
	waitListed(t, b, []string{rec})

	// eve asks and sam, his supervision page open on a, grants on a.
	eve := a.uiLogin(t, "eve", pw("eve"))
	audio := "/api/v1/recordings/" + rec + "/audio.wav"
	if resp, _ := on(eve, b).get(t, audio); resp.StatusCode != 403 {
		t.Errorf("eve without a grant, on b: %d, want 403", resp.StatusCode)
	}
	sam := a.uiLogin(t, "sam", pw("sam"))
	ctx, closePage := context.WithCancel(context.Background())
	defer closePage()
	stream, id := openSupervision(t, ctx, sam)
	defer stream.Body.Close()
	var beating sync.WaitGroup
	defer beating.Wait()
	defer closePage()
	beating.Go(func() { heartbeat(ctx, sam, id) })
	if resp, body := eve.post(t, "/foureyes/request", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("eve asks on a: %s %.300s", resp.Status, body)
	}
	if resp, body := sam.post(t, "/supervise/eve/grant", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("sam grants on a: %s %.300s", resp.Status, body)
	}
	if resp, _ := eve.get(t, audio); resp.StatusCode != 200 {
		t.Errorf("eve with the grant, on a: %d, want 200", resp.StatusCode)
	}
	if resp, body := on(eve, b).get(t, audio); resp.StatusCode != 200 {
		t.Errorf("eve with the grant made on a, on b: %s %.200s", resp.Status, body)
	}
}

// openSupervision opens c's supervision page's event stream and returns
// it with the stream's id.
func openSupervision(t *testing.T, ctx context.Context, c *uiClient) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.d.url+"/supervise/events", nil)
	stream, err := c.c.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", err, stream)
	}
	ids := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), `"stream":"`); ok {
				if id, _, ok := strings.Cut(rest, `"`); ok {
					select {
					case ids <- id:
					default:
					}
				}
			}
		}
	}()
	select {
	case id := <-ids:
		return stream, id
	case <-time.After(time.Minute): // a bound on a busy machine, not a speed
		t.Fatal("no hello on the event stream")
	}
	return nil, ""
}

// heartbeat answers the supervision page's pings until ctx ends.
func heartbeat(ctx context.Context, c *uiClient, id string) {
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "POST", c.d.url+"/supervise/heartbeat", strings.NewReader("stream="+id))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.d.url)
		if resp, err := c.c.Do(req); err == nil {
			resp.Body.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// TestTwoNodesStartDuringUpload: a daemon that starts while the other
// is receiving an upload leaves that upload alone: it completes, 201,
// and plays whole on both nodes.
func TestTwoNodesStartDuringUpload(t *testing.T) {
	dir := t.TempDir()
	st := startPostgresStorage(t, dir, "")
	a := startDaemonWith(t, filepath.Join(dir, "a"), st.withConfig)
	capture := synthPcap(synthCall{seconds: 20, callID: "live@pbx", from: synthParty{"Alice", "alice"}, to: synthParty{"Bob", "bob"}})
	pr, pw := io.Pipe()
	type answer struct {
		code int
		id   string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPut, a.url+"/recordings/Files/0000000000000000000000000000bb01-009033302ab1-11--alice.pcap", pr)
		req.SetBasicAuth("ingest", testIngestPassword)
		resp, err := client.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var m struct{ ID string }
		json.NewDecoder(resp.Body).Decode(&m)
		done <- answer{code: resp.StatusCode, id: m.ID}
	}()
	half := len(capture) / 2
	base := metricNow(t, a, "callvault_commit_bytes_total")
	if _, err := pw.Write(capture[:half]); err != nil {
		t.Fatal(err)
	}
	waitMetricAtLeast(t, a.url, "callvault_commit_bytes_total", base+float64(half/archive.ChunkSize*archive.ChunkSize))
	b := startDaemonWith(t, filepath.Join(dir, "b"), st.withConfig)
	if _, err := pw.Write(capture[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil || r.code != http.StatusCreated {
		t.Fatalf("the upload the other node's start found running: %d %v\n%s", r.code, r.err, b.out)
	}
	for _, d := range []*daemon{a, b} {
		got := waitListed(t, d, []string{r.id})
		if got[r.id].State != "complete" {
			t.Errorf("%s: state %q, want complete", d.url, got[r.id].State)
		}
		mustPlay(t, d, r.id, 19)
		d.mustVerify(t, r.id)
		mustVerifyChainOn(t, d)
	}
	if strings.Contains(b.out.String(), "recovered an upload") {
		t.Errorf("the starting node took the other node's running upload for one cut off:\n%s", b.out)
	}
}
