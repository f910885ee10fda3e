package archive

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
	"golang.org/x/crypto/argon2"
)

// MinPasswordLen and MinPassphraseLen are the fewest characters (not
// bytes) of a user's password and of a new archive's passphrase: the
// first start, the UI and the API hold passwords and passphrases to them.
const (
	MinPasswordLen   = 10
	MinPassphraseLen = 12
)

// ErrShortPassphrase is Open's error for a new archive whose passphrase
// is shorter than MinPassphraseLen; it matches ErrInvalid. An existing
// archive opens with its passphrase whatever its length.
var ErrShortPassphrase = fmt.Errorf("a new archive's passphrase needs at least %d characters: %w", MinPassphraseLen, ErrInvalid)

// KDFParams are argon2id cost parameters, used for the archive passphrase
// and for user passwords. They are stored next to every salt, so changing
// the defaults never breaks an existing passphrase or password.
type KDFParams struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory per computation, KiB
	Threads   uint8  // lanes
}

// DefaultKDF returns the production argon2id parameters: RFC 9106's second
// recommended option (t=3, m=64 MiB, p=4), about 70 ms on a 2-core appliance
// and above the OWASP minimum (m=19 MiB, t=2, p=1). See FORMAT.md.
func DefaultKDF() KDFParams { return KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4} }

// FastKDF returns a deliberately weak setting for tests only (64 KiB, one
// pass).
func FastKDF() KDFParams { return KDFParams{Time: 1, MemoryKiB: 64, Threads: 1} }

// Bounds on KDF parameters read from disk, so that a damaged or hostile
// file cannot make Open or Authenticate allocate gigabytes.
const (
	maxKDFTime      = 64
	maxKDFMemoryKiB = 1 << 20 // 1 GiB
	maxKDFThreads   = 64
	kdfSaltLen      = 16
	maxKeyFileSize  = 4096
)

func (p KDFParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("archive: kdf time %d outside 1..%d: %w", p.Time, maxKDFTime, ErrInvalid)
	case p.Threads < 1 || p.Threads > maxKDFThreads:
		return fmt.Errorf("archive: kdf threads %d outside 1..%d: %w", p.Threads, maxKDFThreads, ErrInvalid)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("archive: kdf memory %d KiB outside %d..%d: %w", p.MemoryKiB, 8*uint32(p.Threads), maxKDFMemoryKiB, ErrInvalid)
	}
	return nil
}

func (p KDFParams) key(secret, salt []byte, n uint32) []byte {
	return argon2.IDKey(secret, salt, p.Time, p.MemoryKiB, p.Threads, n)
}

// kdfRecord is the stored passphrase KDF: 0x01 ‖ alg 0x01 (argon2id) ‖
// time u32 ‖ memory KiB u32 ‖ threads u8 ‖ salt length u8 ‖ salt.
type kdfRecord struct {
	p    KDFParams
	salt []byte
}

func (r kdfRecord) marshal() []byte {
	b := []byte{curFormat, 1}
	b = binary.BigEndian.AppendUint32(b, r.p.Time)
	b = binary.BigEndian.AppendUint32(b, r.p.MemoryKiB)
	b = append(b, r.p.Threads, byte(len(r.salt)))
	return append(b, r.salt...)
}

func parseKDFRecord(b []byte) (kdfRecord, error) {
	if len(b) < 12 || b[0] != curFormat || b[1] != 1 || int(b[11]) != len(b)-12 || b[11] < 8 {
		return kdfRecord{}, fmt.Errorf("archive: kdf record: %w", ErrCorrupt)
	}
	r := kdfRecord{
		p:    KDFParams{Time: binary.BigEndian.Uint32(b[2:]), MemoryKiB: binary.BigEndian.Uint32(b[6:]), Threads: b[10]},
		salt: bytes.Clone(b[12:]),
	}
	if err := r.p.validate(); err != nil {
		return kdfRecord{}, fmt.Errorf("archive: kdf record: %w", ErrCorrupt)
	}
	return r, nil
}

const keyFileHeader = "# callvault archive key (format 1): 32 random bytes as 64 hex digits.\n" +
	"# Keep this file outside the data directory and back it up separately:\n" +
	"# without it the archive cannot be read.\n"

// formatKeyFile returns the key file contents for a 32-byte key.
func formatKeyFile(key []byte) []byte {
	b := []byte(keyFileHeader)
	b = hex.AppendEncode(b, key)
	return append(b, '\n')
}

// parseKeyFile reads a key file: lines starting with '#' and blank lines
// are ignored; exactly one line of 64 hex digits (either case) remains.
// Errors never include the file's contents.
func parseKeyFile(b []byte) ([]byte, error) {
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("archive: key file larger than %d bytes: %w", maxKeyFileSize, ErrInvalid)
	}
	var key []byte
	for line := range bytes.Lines(b) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if key != nil {
			return nil, fmt.Errorf("archive: key file has more than one key line: %w", ErrInvalid)
		}
		if len(line) != 2*keyLen {
			return nil, fmt.Errorf("archive: key file: key line is not 64 hex digits: %w", ErrInvalid)
		}
		key = make([]byte, keyLen)
		if _, err := hex.Decode(key, line); err != nil {
			return nil, fmt.Errorf("archive: key file: key line is not 64 hex digits: %w", ErrInvalid)
		}
	}
	if key == nil {
		return nil, fmt.Errorf("archive: key file holds no key: %w", ErrInvalid)
	}
	return key, nil
}

func readKeyFile(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("archive: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("archive: key file: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("archive: key file: %w", err)
	}
	defer clear(b)
	k, err := parseKeyFile(b)
	return k, fi, err
}

// createKeyFile writes a new random key to path (mode 0600, parent
// directories 0700); it fails if the file exists, or if others may write
// its directory (they could replace the key, or have planted it).
func createKeyFile(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("archive: key file: %w", err)
	}
	if err := checkKeyDir(dir); err != nil {
		return nil, err
	}
	key := randomKey()
	if err := writeKeyFile(path, key, true); err != nil {
		return nil, fmt.Errorf("archive: key file: %w", err)
	}
	return key, nil
}

// CreateKeyFile writes a new random archive key to path in the key-file
// format Open reads (mode 0600, parent directories 0700, file and
// directory synced). It never replaces a file: when path exists the error
// matches os.ErrExist. It refuses a directory that its group or others
// may write (ErrInvalid). The key is the one Open creates on first start.
func CreateKeyFile(path string) error {
	key, err := createKeyFile(path)
	clear(key)
	return err
}

// writeKeyFile writes key to path with mode 0600 (parent directories
// 0700) and fsyncs file and directory. With excl it fails if the file
// exists and removes what it wrote on failure; otherwise it replaces it.
func writeKeyFile(path string, key []byte, excl bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if excl {
		flag = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return err
	}
	content := formatKeyFile(key)
	defer clear(content)
	if err = f.Chmod(0o600); err == nil { // an existing file keeps its mode otherwise
		_, err = f.Write(content)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil && excl {
		os.Remove(path)
	}
	return err
}

// Archive-key modes stored under keyring/"kek".
const (
	kekFile       = 1
	kekPassphrase = 2
)

// keyring holds the unlocked master key and its subkeys. The master key
// is kept so that RotateKeyFile and SetPassphrase can re-box it under a
// new archive key (the subkeys in memory are worth as much).
type keyring struct {
	wrap     cipher.AEAD // wraps data keys
	state    cipher.AEAD // encrypts users and tombstone notes
	index    []byte      // HMAC key for keyed indexes
	sealPriv ed25519.PrivateKey
	sealPub  ed25519.PublicKey
	master   []byte
	rotateMu sync.Mutex // one key change at a time
}

func newKeyring(master []byte) (*keyring, error) {
	wrap, err := subAEAD(master, infoWrap)
	if err != nil {
		return nil, err
	}
	state, err := subAEAD(master, infoState)
	if err != nil {
		return nil, err
	}
	return &keyring{wrap: wrap, state: state, index: subkey(master, infoIndex), master: bytes.Clone(master)}, nil
}

// keyringWithSealKey is newKeyring and the AEAD that boxes the seal's
// private key, both derived from master.
func keyringWithSealKey(master []byte) (*keyring, cipher.AEAD, error) {
	kr, err := newKeyring(master)
	if err != nil {
		return nil, nil, err
	}
	sk, err := subAEAD(master, infoSeal)
	if err != nil {
		return nil, nil, err
	}
	return kr, sk, nil
}

// storedKeyring is the keyring bucket copied out of a read transaction.
type storedKeyring struct {
	mode             byte
	kdf, master, pub []byte
	priv             []byte
}

// unlock opens (or, for a new file, creates) the keyring.
func (a *Archive) unlock(opt Options) error {
	var st storedKeyring
	err := a.store.View(func(tx kv.Tx) error {
		b := tx.Bucket(bucketKeyring)
		if m := b.Get(keyringKEK); len(m) == 1 {
			st.mode = m[0]
		}
		st.kdf = bytes.Clone(b.Get(keyringKDF))
		st.master = bytes.Clone(b.Get(keyringMaster))
		st.pub = bytes.Clone(b.Get(keyringSealPub))
		st.priv = bytes.Clone(b.Get(keyringSealPriv))
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive: read keyring: %w", err)
	}
	if st.master == nil {
		return a.createKeyring(opt)
	}
	var kek []byte
	switch st.mode {
	case kekPassphrase:
		if opt.Passphrase == nil {
			return fmt.Errorf("archive: the archive is protected by a passphrase, none given: %w", ErrWrongKey)
		}
		r, err := parseKDFRecord(st.kdf)
		if err != nil {
			return err
		}
		kek = r.p.key(opt.Passphrase, r.salt, keyLen)
	case kekFile:
		if opt.Passphrase != nil {
			return fmt.Errorf("archive: the archive is protected by a key file, a passphrase was given: %w", ErrWrongKey)
		}
		if opt.KeyFile == "" {
			return fmt.Errorf("archive: no key file configured: %w", ErrInvalid)
		}
		var fi os.FileInfo
		kek, fi, err = readKeyFile(opt.KeyFile)
		if errors.Is(err, fs.ErrNotExist) && rotationPending(opt.KeyFile) {
			// A rotation to a new path was cut off before the new file
			// was renamed into place: finishRotation below.
			kek, fi, err = make([]byte, keyLen), nil, nil
		}
		if err != nil {
			return err
		}
		if err := a.checkKeyFile(opt.KeyFile, fi); err != nil {
			return err
		}
	default:
		return fmt.Errorf("archive: keyring mode %d: %w", st.mode, ErrCorrupt)
	}
	defer clear(kek)
	kekAEAD, err := newAEAD(kek)
	if err != nil {
		return err
	}
	master, err := boxOpen(kekAEAD, boxAAD(aadMaster), st.master)
	if err != nil && st.mode == kekFile {
		master, err = a.finishRotation(opt.KeyFile, st.master) // see keyrotate.go
	}
	if err != nil {
		return fmt.Errorf("archive: open master key: %w", ErrWrongKey)
	}
	defer clear(master)
	kr, sk, err := keyringWithSealKey(master)
	if err != nil {
		return err
	}
	if len(st.pub) != ed25519.PublicKeySize {
		return fmt.Errorf("archive: seal public key: %w", ErrCorrupt)
	}
	seed, err := boxOpen(sk, boxAAD(aadSealKey, st.pub), st.priv)
	if err != nil || len(seed) != ed25519.SeedSize {
		return fmt.Errorf("archive: seal private key: %w", ErrCorrupt)
	}
	defer clear(seed)
	kr.sealPriv = ed25519.NewKeyFromSeed(seed)
	kr.sealPub = kr.sealPriv.Public().(ed25519.PublicKey)
	if !bytes.Equal(kr.sealPub, st.pub) {
		return fmt.Errorf("archive: seal key pair mismatch: %w", ErrCorrupt)
	}
	a.keys = kr
	return nil
}

// keyFileInfo is what checkKeyFile weighs of a key file: its mode and
// owner, and its directory's.
type keyFileInfo struct {
	mode, dirMode fs.FileMode
	uid, dirUID   int // dirUID -1: unknown
	// The configured path's directory, when the path is a symbolic link
	// (else the same as dirMode and dirUID).
	linkDirMode fs.FileMode
	linkDirUID  int
}

// keyFileProblem says why a process whose effective user is euid must not
// use a key file, or "" when it may: others must neither read nor write
// it, its group must not write it, and it belongs to this user or root.
// A process of root also takes a key another user owns when no third
// user could have put it there: its directory belongs to root or to the
// key's owner, and the directory of the configured path (which may link
// to it) to root, neither writable by group or others (the package keeps
// the key as the callvault user's in /etc/callvault/key, linked from
// /etc/callvault, and root runs restore, verify or key rotate on it).
func keyFileProblem(k keyFileInfo, euid int) string {
	perm := k.mode.Perm()
	switch {
	case perm&0o007 != 0:
		return fmt.Sprintf("others may read or write it (mode %s; chmod 600 it)", perm)
	case perm&0o020 != 0:
		return fmt.Sprintf("its group may write it (mode %s; chmod 600 it)", perm)
	case k.uid == euid || k.uid == 0:
		return ""
	case euid == 0 && (k.dirUID == 0 || k.dirUID == k.uid) && k.dirMode.Perm()&0o022 == 0 &&
		k.linkDirUID == 0 && k.linkDirMode.Perm()&0o022 == 0:
		return ""
	}
	return fmt.Sprintf("it belongs to user %d, neither this process's user (%d) nor root", k.uid, euid)
}

// checkKeyFile refuses the key file at path, of fi (opened), when
// keyFileProblem finds one: a key that another user could read, have
// planted or replace does not protect the archive. Where the system does
// not tell a file's owner it only warns of a loose mode.
func (a *Archive) checkKeyFile(path string, fi os.FileInfo) error {
	if fi == nil {
		return nil
	}
	uid, gid, ok := fileOwner(fi)
	if !ok {
		if fi.Mode().Perm()&0o077 != 0 {
			a.log.Warn("archive key file is readable by group or others", "path", path, "mode", fi.Mode().Perm().String())
		}
		return nil
	}
	k := keyFileInfo{mode: fi.Mode(), uid: uid, dirUID: -1, linkDirUID: -1}
	if dfi, err := os.Stat(filepath.Dir(path)); err == nil {
		k.linkDirMode = dfi.Mode()
		k.linkDirUID, _, _ = fileOwner(dfi)
	}
	k.dirMode, k.dirUID = k.linkDirMode, k.linkDirUID
	if real, err := filepath.EvalSymlinks(path); err == nil && filepath.Dir(real) != filepath.Dir(path) {
		k.dirUID = -1
		if dfi, err := os.Stat(filepath.Dir(real)); err == nil {
			k.dirMode = dfi.Mode()
			k.dirUID, _, _ = fileOwner(dfi)
		}
	}
	euid := os.Geteuid()
	if p := keyFileProblem(k, euid); p != "" {
		return fmt.Errorf("archive: key file %s not used: %s: %w", path, p, ErrInvalid)
	}
	if fi.Mode().Perm()&0o040 != 0 && gid != os.Getegid() && euid != 0 {
		a.log.Warn("archive key file is readable by a group this process is not in", "path", path, "mode", fi.Mode().Perm().String(), "gid", gid)
	}
	return nil
}

// fileOwner returns the owner and group of the file of fi; ok is false
// where the system does not tell.
func fileOwner(fi os.FileInfo) (uid, gid int, ok bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid), true
	}
	return 0, 0, false
}

// checkKeyDir refuses to create a key file in dir when others may write
// it (as /tmp), or a group other than the process's own: they could have
// planted the file or replace it. The process's own group may (a user's
// private group, with the usual umask 002 of such systems). Where the
// system does not tell owners it checks nothing.
func checkKeyDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("archive: key file: %w", err)
	}
	if _, gid, ok := fileOwner(fi); ok && (fi.Mode().Perm()&0o002 != 0 || fi.Mode().Perm()&0o020 != 0 && gid != os.Getegid()) {
		return fmt.Errorf("archive: not creating the key file in %s: others, or a group not this process's, may write that directory (mode %s); choose a key file in a directory only its owner may write: %w", dir, fi.Mode(), ErrInvalid)
	}
	return nil
}

func (a *Archive) createKeyring(opt Options) error {
	var (
		kek    []byte
		mode   byte
		kdfRec []byte
		err    error
	)
	switch {
	case opt.Passphrase != nil:
		if len(opt.Passphrase) == 0 {
			return fmt.Errorf("archive: empty passphrase: %w", ErrInvalid)
		}
		if utf8.RuneCount(opt.Passphrase) < MinPassphraseLen {
			return fmt.Errorf("archive: %w", ErrShortPassphrase)
		}
		salt := make([]byte, kdfSaltLen)
		_, _ = rand.Read(salt)
		r := kdfRecord{p: a.kdf, salt: salt}
		kek = r.p.key(opt.Passphrase, salt, keyLen)
		mode, kdfRec = kekPassphrase, r.marshal()
	case opt.KeyFile != "":
		var fi os.FileInfo
		kek, fi, err = readKeyFile(opt.KeyFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			kek, err = createKeyFile(opt.KeyFile)
			if err != nil {
				return err
			}
			a.log.Info("archive key file created", "path", opt.KeyFile)
		case err != nil:
			return err
		default:
			if err := a.checkKeyFile(opt.KeyFile, fi); err != nil {
				return err
			}
		}
		mode = kekFile
	default:
		return fmt.Errorf("archive: neither key file nor passphrase configured: %w", ErrInvalid)
	}
	defer clear(kek)
	kekAEAD, err := newAEAD(kek)
	if err != nil {
		return err
	}
	master := randomKey()
	defer clear(master)
	masterBox := boxSeal(kekAEAD, boxAAD(aadMaster), master)
	kr, sk, err := keyringWithSealKey(master)
	if err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("archive: seal key: %w", err)
	}
	privBox := boxSeal(sk, boxAAD(aadSealKey, pub), priv.Seed())
	kr.sealPriv, kr.sealPub = priv, pub
	err = a.store.Update(func(tx kv.Tx) error {
		b := tx.Bucket(bucketKeyring)
		if b.Get(keyringMaster) != nil {
			return fmt.Errorf("archive: keyring appeared concurrently: %w", ErrCorrupt)
		}
		for _, kv := range [][2][]byte{
			{keyringKEK, {mode}}, {keyringMaster, masterBox},
			{keyringSealPub, pub}, {keyringSealPriv, privBox},
		} {
			if err := b.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		if kdfRec != nil {
			return b.Put(keyringKDF, kdfRec)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive: write keyring: %w", err)
	}
	a.keys = kr
	return nil
}

// dataKeyAEAD wraps and unwraps recording data keys.
func (a *Archive) wrapDataKey(id ID, dk []byte) []byte {
	return boxSeal(a.keys.wrap, boxAAD(aadDataKey, id[:]), dk)
}

func (a *Archive) unwrapDataKey(id ID, box []byte) ([]byte, error) {
	dk, err := boxOpen(a.keys.wrap, boxAAD(aadDataKey, id[:]), box)
	if err != nil || len(dk) != keyLen {
		return nil, fmt.Errorf("archive: recording %s: data key: %w", id, ErrCorrupt)
	}
	return dk, nil
}
