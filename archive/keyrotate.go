package archive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
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

const rotateSuffix = ".new"

const maxPassphraseLen = 1024

func rotationPending(keyFile string) bool {
	_, err := os.Stat(keyFile + rotateSuffix)
	return err == nil
}

// finishRotation is called by unlock when the key file does not open the
// master key: if PATH.new does, a rotation was cut off after its commit;
// PATH.new becomes PATH.
func (a *Archive) finishRotation(keyFile string, masterBox []byte) ([]byte, error) {
	next := keyFile + rotateSuffix
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

// RotateKeyFile makes a new random archive key, writes it to newKeyFile
// (mode 0600, replacing the file if it exists; it may be the current key
// file) and re-boxes the master key under it, in key-file mode (also when
// the archive had a passphrase). After it returns the old key file or
// passphrase no longer opens the archive; the caller must use newKeyFile
// from now on.
func (a *Archive) RotateKeyFile(ctx context.Context, newKeyFile string) error {
	if newKeyFile == "" {
		return fmt.Errorf("archive: rotate key: empty key file path: %w", ErrInvalid)
	}
	kr := a.keys
	kr.rotateMu.Lock()
	defer kr.rotateMu.Unlock()
	key := randomKey()
	defer clear(key)
	next := newKeyFile + rotateSuffix
	if err := writeKeyFile(next, key, false); err != nil {
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
	if len(passphrase) == 0 || len(passphrase) > maxPassphraseLen {
		return fmt.Errorf("archive: set passphrase: empty or longer than %d bytes: %w", maxPassphraseLen, ErrInvalid)
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
	return a.update(ctx, func(tx *bolt.Tx) error {
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
