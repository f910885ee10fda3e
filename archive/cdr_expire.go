package archive

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// A CDR whose recording never arrives (a call that was not recorded, or
// whose upload was refused) is shown nowhere, since CDRs are read with
// their recordings, yet holds numbers and names. Expire deletes the CDRs
// of a call that no recording answers to once the last of them was
// received, by the archive's clock, before the seat grace's cutoff
// (SeatGraceDays, fewer when retention is shorter): a recording of the
// call that arrives later finds none. A recording of the call in the
// recycle bin keeps them, so that a restore finds them. The CDRs of a
// call with recordings go with its last one (dropCDRsTx).

// AuditLifecycleCDRs is the audit action of the CDRs an Expire run
// deleted in one transaction (actor SystemActor, detail how many calls'
// CDRs and why).
const AuditLifecycleCDRs = "lifecycle.cdrs"

// cdrBatch bounds the calls whose CDRs one transaction deletes: a call's
// check and deletion take microseconds, where a recording's purge takes
// a data key and a tombstone (expireBatch).
const cdrBatch = 512

// cdrCall is a call whose CDRs Expire deletes.
type cdrCall struct {
	ch     [callHashLen]byte
	callID string
}

// expireCDRs deletes the CDRs of the calls no recording answers to, the
// last of them received before cut, and returns how many calls' CDRs it
// deleted.
func (a *Archive) expireCDRs(ctx context.Context, cut time.Time, why string) (int, error) {
	// Recordings binned from start on are looked for again in each
	// deleting transaction; those binned before are gathered first.
	start := nsOf(a.now())
	binned, err := a.binnedCalls(ctx)
	if err != nil {
		return 0, err
	}
	cutNS := nsOf(cut)
	deleted := 0
	var after []byte // the call hash read last
	for {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		var cands []cdrCall
		var last []byte
		err := a.view(func(tx kv.Tx) error {
			cands, last = a.orphanCDRsTx(tx, after, cutNS, binned)
			return nil
		})
		if err != nil {
			return deleted, err
		}
		for len(cands) > 0 {
			n := min(len(cands), cdrBatch)
			d, err := a.dropOrphanCDRs(ctx, cands[:n], cutNS, start, why)
			deleted += d
			if err != nil {
				return deleted, err
			}
			cands = cands[n:]
		}
		if last == nil {
			return deleted, nil
		}
		after = last
	}
}

// orphanCDRsTx reads the CDRs of about expireScan calls after the call
// hash after (from the first when nil) and returns those of them to
// delete, and the last call hash read (nil at the end).
func (a *Archive) orphanCDRsTx(tx kv.Tx, after []byte, cutNS int64, binned map[[callHashLen]byte]bool) ([]cdrCall, []byte) {
	c := tx.Bucket(bucketCDRs).Cursor()
	k, _ := c.First()
	if after != nil {
		k, _ = c.Seek(after)
	}
	var out []cdrCall
	for n := 0; k != nil; {
		if n == expireScan {
			return out, bytes.Clone(after)
		}
		if len(k) < callHashLen {
			k, _ = c.Next()
			continue
		}
		ch := [callHashLen]byte(k[:callHashLen])
		for k != nil && bytes.HasPrefix(k, ch[:]) {
			k, _ = c.Next()
		}
		if after != nil && bytes.Equal(ch[:], after) {
			continue // read in the last batch
		}
		after = ch[:]
		n++
		if binned[ch] {
			continue
		}
		if id, ok := a.cdrCallTx(tx, ch, cutNS); ok && !a.callAnsweredTx(tx, id) {
			out = append(out, cdrCall{ch, id})
		}
	}
	return out, nil
}

// cdrCallTx reads the CDRs of call hash ch and returns their call id
// when every one of them is readable, of that call id, and received
// before cutNS.
func (a *Archive) cdrCallTx(tx kv.Tx, ch [callHashLen]byte, cutNS int64) (string, bool) {
	c := tx.Bucket(bucketCDRs).Cursor()
	id := ""
	for k, v := c.Seek(ch[:]); k != nil && bytes.HasPrefix(k, ch[:]); k, v = c.Next() {
		r, ok := a.openCDR(k, v)
		if !ok || a.callHash(r.CallID) != ch || id != "" && r.CallID != id || r.Received >= cutNS {
			return "", false // unreadable ones are left alone
		}
		id = r.CallID
	}
	return id, id != ""
}

// binnedCalls returns the call hashes of the recordings in the recycle
// bin.
func (a *Archive) binnedCalls(ctx context.Context) (map[[callHashLen]byte]bool, error) {
	out := map[[callHashLen]byte]bool{}
	var rerr error
	err := a.expireBatches(ctx, bucketBin, func([]expireCand) {}, func(tx kv.Tx, k []byte, _ *[]expireCand) bool {
		rerr = a.recordingCallsTx(tx, k, out)
		return rerr == nil
	})
	if err = cmp.Or(err, rerr); err != nil {
		return nil, err
	}
	return out, nil
}

// recordingCallsTx adds to calls the call hashes of the recording with
// time key k (of the recycle bin or of the recordings the search index
// has not taken in yet).
func (a *Archive) recordingCallsTx(tx kv.Tx, k []byte, calls map[[callHashLen]byte]bool) error {
	if len(k) != timeKeyLen {
		return nil
	}
	m, dk, err := a.loadTx(tx, ID(k[8:]))
	clear(dk)
	if err != nil {
		return fmt.Errorf("archive: the call ids of recording %s: %w", ID(k[8:]), err)
	}
	for _, id := range callIDs(m) {
		calls[a.callHash(id)] = true
	}
	return nil
}

// dropOrphanCDRs deletes the CDRs of cands that are still to be deleted
// (none came, no recording answers to them, none of the call's
// recordings was binned since start or waits for the search index, which
// finds a recording by the SIP Call-IDs of its calls), with an audit
// entry, in one transaction, and returns how many calls' CDRs it deleted.
func (a *Archive) dropOrphanCDRs(ctx context.Context, cands []cdrCall, cutNS, start int64, why string) (int, error) {
	n := 0
	err := a.update(ctx, func(tx kv.Tx) error {
		n = 0
		recent := map[[callHashLen]byte]bool{}
		from := timeKey(start, ID{})
		c := tx.Bucket(bucketBin).Cursor()
		for k, _ := c.Seek(from[:]); k != nil; k, _ = c.Next() {
			if err := a.recordingCallsTx(tx, k, recent); err != nil {
				return err
			}
		}
		c = tx.Bucket(bucketWhoPending).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if err := a.recordingCallsTx(tx, k, recent); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketCDRs)
		for _, cc := range cands {
			if recent[cc.ch] {
				continue
			}
			if id, ok := a.cdrCallTx(tx, cc.ch, cutNS); !ok || id != cc.callID || a.callAnsweredTx(tx, id) {
				continue
			}
			if err := deletePrefix(b, cc.ch[:]); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		plain, err := auditPlain(AuditEvent{Actor: SystemActor, Action: AuditLifecycleCDRs, OK: true,
			Detail: fmt.Sprintf("call detail records of %d calls deleted: %s", n, why)})
		if err != nil {
			return err
		}
		return a.appendAuditTx(tx, time.Time{}, plain)
	})
	if err != nil {
		return 0, fmt.Errorf("archive: deleting call detail records: %w", err)
	}
	return n, nil
}
