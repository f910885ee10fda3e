package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// Key rotation re-boxes the master key under a new archive key (KEK); data
// keys, records, chunks and the seal key stay as they are, because they hang
// off the master key. Once the change is committed the old key file or
// passphrase no longer opens the archive (copies of the file made before,
// such as backups, still open with the old key: see FORMAT.md).
//
// A new key file is written as PATH.new, the keyring is committed, then
// PATH.new is renamed to PATH. If the process stops between the commit and
// the rename, Open finds PATH.new, checks that it opens the master key and
// finishes the rename.
//
// PATH is the key file's real path: the configured one with its symbolic
// links resolved. The rotation's files (PATH.new, PATH.old-…) are made in
// the real file's directory and a link at the configured path keeps
// pointing at the new key. The package keeps the key in a directory of its
// own that the daemon may write (/etc/callvault/key) and links
// /etc/callvault/callvault.key to it; the daemon cannot write
// /etc/callvault itself.

const rotateSuffix = ".new"

const maxPassphraseLen = 1024

// maxLinks bounds the symbolic links realKeyPath follows, as the kernel does.
const maxLinks = 40

// realKeyPath returns path with its symbolic links resolved, also when the
// file (or a link's target) does not exist yet: then its directory is
// resolved, and a directory that does not exist either is left as it is.
func realKeyPath(path string) (string, error) {
	for range maxLinks {
		p, err := filepath.EvalSymlinks(path)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		fi, lerr := os.Lstat(path)
		if lerr == nil && fi.Mode()&fs.ModeSymlink != 0 { // a link to a file not there yet
			target, err := os.Readlink(path)
			if err != nil {
				return "", err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(path), target)
			}
			path = target
			continue
		}
		dir, err := filepath.EvalSymlinks(filepath.Dir(path))
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.Clean(path), nil // writeKeyFile makes the directories
		}
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, filepath.Base(path)), nil
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// pendingRotations lists where a rotation cut off after its commit left
// the new key, and where it goes: beside the real key file, and (an older
// version's rotation) beside the configured path.
func pendingRotations(keyFile string) (next, dst []string) {
	if real, err := realKeyPath(keyFile); err == nil && real != filepath.Clean(keyFile) {
		next, dst = append(next, real+rotateSuffix), append(dst, real)
	}
	return append(next, keyFile+rotateSuffix), append(dst, keyFile)
}

func rotationPending(keyFile string) bool {
	next, _ := pendingRotations(keyFile)
	for _, n := range next {
		if _, err := os.Stat(n); err == nil {
			return true
		}
	}
	return false
}

// finishRotation is called by unlock when the key file does not open the
// master key: if PATH.new does, a rotation was cut off after its commit;
// PATH.new becomes PATH.
func (a *Archive) finishRotation(keyFile string, masterBox []byte) ([]byte, error) {
	nexts, dsts := pendingRotations(keyFile)
	for i, next := range nexts {
		master, err := a.finishRotationAt(next, dsts[i], masterBox)
		if !errors.Is(err, ErrWrongKey) {
			return master, err
		}
	}
	return nil, ErrWrongKey
}

// finishRotationAt renames next to keyFile if next opens the master key.
func (a *Archive) finishRotationAt(next, keyFile string, masterBox []byte) ([]byte, error) {
	kek, _, err := readKeyFile(next)
	if err != nil {
		return nil, ErrWrongKey
	}
	defer clear(kek)
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	master, err := boxOpen(aead, boxAAD(aadMaster), masterBox)
	if err != nil {
		return nil, ErrWrongKey
	}
	if err := os.Rename(next, keyFile); err != nil {
		clear(master)
		return nil, fmt.Errorf("archive: finish key rotation: %w", err)
	}
	if err := syncDir(filepath.Dir(keyFile)); err != nil {
		clear(master)
		return nil, fmt.Errorf("archive: finish key rotation: %w", err)
	}
	a.log.Warn("archive key rotation was interrupted; the new key file is now in place", "path", keyFile)
	return master, nil
}

// RotateKeyFile is RotateKey, without saying where the old key went.
func (a *Archive) RotateKeyFile(ctx context.Context, newKeyFile string) error {
	_, err := a.RotateKey(ctx, newKeyFile)
	return err
}

// RotateKey makes a new random archive key, writes it to newKeyFile
// (mode 0600; it may be the current key file) and re-boxes the master key
// under it, in key-file mode (also when the archive had a passphrase).
// When newKeyFile is a symbolic link, the file it points to is replaced
// and the link is kept. Run as root, the new file and the copy of the old
// one get the old file's owner and group (the key stays readable by the
// daemon's user).
// After it returns the old key file or passphrase no longer opens the
// archive; the caller must use newKeyFile from now on. A file already at
// newKeyFile is not lost: it is first copied to
// newKeyFile.old-YYYYMMDD-HHMMSS beside it (mode 0600, the archive's clock, UTC),
// whose path is returned as old ("" when there was no file). Backups made
// before need that old key; delete it once none does.
func (a *Archive) RotateKey(ctx context.Context, newKeyFile string) (old string, err error) {
	if newKeyFile == "" {
		return "", fmt.Errorf("archive: rotate key: empty key file path: %w", ErrInvalid)
	}
	real, err := realKeyPath(newKeyFile)
	if err != nil {
		return "", fmt.Errorf("archive: rotate key: %w", err)
	}
	kr := a.keys
	kr.rotateMu.Lock()
	defer kr.rotateMu.Unlock()
	if old, err = a.keepOldKeyFile(real); err != nil {
		return "", fmt.Errorf("archive: rotate key: keep the old key file: %w", err)
	}
	if err := a.rotateKeyFile(ctx, real); err != nil {
		return old, err
	}
	if old != "" {
		a.log.Info("old archive key file kept for older backups", "path", old)
	}
	return old, nil
}

// keepOldKeyFile copies the file at path, if any, to
// path.old-YYYYMMDD-HHMMSS (-2, -3… when that exists) and returns the copy's path.
func (a *Archive) keepOldKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer clear(b)
	base := path + ".old-" + a.Now().UTC().Format("20060102-150405")
	for i := 1; i < 100; i++ {
		old := base
		if i > 1 {
			old = base + "-" + strconv.Itoa(i)
		}
		f, err := os.OpenFile(old, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		err = sameOwner(f, path)
		if err == nil {
			_, err = f.Write(b)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = syncDir(filepath.Dir(old))
		}
		if err != nil {
			os.Remove(old)
			return "", err
		}
		return old, nil
	}
	return "", fmt.Errorf("too many old key files beside %s", path)
}

// sameOwner gives f, when running as root, the owner and group of the file
// at path, if there is one: a rotation run as root (callvault key rotate)
// leaves the key readable by the daemon's user. Other users keep their
// files (only root can give a file away).
func sameOwner(f *os.File, path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	want, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	have, err := f.Stat()
	if err != nil {
		return err
	}
	wu, wg, ok1 := fileOwner(want)
	hu, hg, ok2 := fileOwner(have)
	if !ok1 || !ok2 || (wu == hu && wg == hg) {
		return nil
	}
	return f.Chown(wu, wg)
}

// chownLike gives the file at path the owner and group of the file at like.
func chownLike(path, like string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := sameOwner(f, like); err != nil {
		return err
	}
	return f.Sync()
}

// rotateKeyFile is RotateKey after the old file is kept; rotateMu is held;
// newKeyFile is a real path (no symbolic links).
func (a *Archive) rotateKeyFile(ctx context.Context, newKeyFile string) error {
	key := randomKey()
	defer clear(key)
	next := newKeyFile + rotateSuffix
	err := writeKeyFile(next, key, false)
	if err == nil {
		err = chownLike(next, newKeyFile)
	}
	if err != nil {
		os.Remove(next)
		return fmt.Errorf("archive: rotate key: write key file: %w", err)
	}
	if err := a.putKEK(ctx, key, kekFile, nil); err != nil {
		os.Remove(next)
		return fmt.Errorf("archive: rotate key: %w", err)
	}
	if err := os.Rename(next, newKeyFile); err != nil {
		// The archive now needs the new key: Open completes the rename.
		return fmt.Errorf("archive: rotate key: the new key is in %s: %w", next, err)
	}
	if err := syncDir(filepath.Dir(newKeyFile)); err != nil {
		return fmt.Errorf("archive: rotate key: %w", err)
	}
	a.log.Info("archive key rotated", "path", newKeyFile)
	return nil
}

// SetPassphrase switches the archive key to argon2id(passphrase) with a new
// salt and the archive's KDF parameters, and re-boxes the master key under
// it. After it returns the old key file or passphrase no longer opens the
// archive; Open needs Options.Passphrase. The key file, if any, is left on
// disk (it is useless for this archive now): delete it.
func (a *Archive) SetPassphrase(ctx context.Context, passphrase []byte) error {
	if utf8.RuneCount(passphrase) < MinPassphraseLen || len(passphrase) > maxPassphraseLen {
		return fmt.Errorf("archive: set passphrase: fewer than %d characters or longer than %d bytes: %w", MinPassphraseLen, maxPassphraseLen, ErrInvalid)
	}
	kr := a.keys
	kr.rotateMu.Lock()
	defer kr.rotateMu.Unlock()
	r := kdfRecord{p: a.kdf, salt: randomBytes(kdfSaltLen)}
	kek := r.p.key(passphrase, r.salt, keyLen)
	defer clear(kek)
	if err := a.putKEK(ctx, kek, kekPassphrase, r.marshal()); err != nil {
		return fmt.Errorf("archive: set passphrase: %w", err)
	}
	a.log.Info("archive key changed to a passphrase")
	return nil
}

// putKEK commits the master key boxed under kek with the mode and KDF
// record (nil removes it).
func (a *Archive) putKEK(ctx context.Context, kek []byte, mode byte, kdf []byte) error {
	aead, err := newAEAD(kek)
	if err != nil {
		return err
	}
	box := boxSeal(aead, boxAAD(aadMaster), a.keys.master)
	return a.update(ctx, func(tx kv.Tx) error {
		b := tx.Bucket(bucketKeyring)
		if err := b.Put(keyringKEK, []byte{mode}); err != nil {
			return err
		}
		if kdf == nil {
			if err := b.Delete(keyringKDF); err != nil {
				return err
			}
		} else if err := b.Put(keyringKDF, kdf); err != nil {
			return err
		}
		return b.Put(keyringMaster, box)
	})
}
