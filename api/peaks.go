package api

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
)

// Bounds of the peaks endpoint's n.
const (
	defaultPeaks = 800
	maxPeaks     = 4000
)

// Peaks is the waveform outline of a rendered WAV: for each of N buckets of
// consecutive frames, the smallest and largest sample of each channel.
type Peaks struct {
	N        int       `json:"n"`        // buckets (fewer than asked when the audio has fewer frames)
	Frames   int64     `json:"frames"`   // frames in the audio
	Rate     int       `json:"rate"`     // frames per second
	Channels int       `json:"channels"` // 2 stereo (remote left, local right), 1 mono
	Min      [][]int16 `json:"min"`      // [channel][bucket]
	Max      [][]int16 `json:"max"`
}

// ComputePeaks reads a PCM16 WAV as the recorder renders it (44-byte
// header, 8 kHz) from r, whose total size is size, and returns n buckets
// of peaks. It streams: memory is independent of the audio's length.
func ComputePeaks(r io.Reader, size int64, n int) (*Peaks, error) {
	var hdr [codec.WAVHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("api: peaks: wav header: %w", err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" || binary.LittleEndian.Uint16(hdr[34:]) != 16 {
		return nil, errors.New("api: peaks: not a PCM16 wav")
	}
	ch := int(binary.LittleEndian.Uint16(hdr[22:]))
	rate := int(binary.LittleEndian.Uint32(hdr[24:]))
	if ch < 1 || ch > 2 {
		return nil, errors.New("api: peaks: unsupported channel count")
	}
	frameSize := int64(2 * ch)
	frames := (size - codec.WAVHeaderSize) / frameSize
	if frames < 0 {
		frames = 0
	}
	if int64(n) > frames {
		n = int(frames)
	}
	p := &Peaks{N: n, Frames: frames, Rate: rate, Channels: ch, Min: make([][]int16, ch), Max: make([][]int16, ch)}
	for c := range ch {
		p.Min[c] = make([]int16, n)
		p.Max[c] = make([]int16, n)
	}
	if n == 0 {
		return p, nil
	}
	buf := make([]byte, 64<<10-(64<<10)%int(frameSize))
	var frame int64
	bucket := 0
	end := bucketEnd(0, frames, n)
	first := true
	for frame < frames {
		k, err := io.ReadFull(r, buf[:min(int64(len(buf)), (frames-frame)*frameSize)])
		k -= k % int(frameSize)
		for off := 0; off < k; off += int(frameSize) {
			for frame >= end && bucket < n-1 {
				bucket++
				end = bucketEnd(bucket, frames, n)
				first = true
			}
			for c := range ch {
				v := int16(binary.LittleEndian.Uint16(buf[off+2*c:]))
				if first || v < p.Min[c][bucket] {
					p.Min[c][bucket] = v
				}
				if first || v > p.Max[c][bucket] {
					p.Max[c][bucket] = v
				}
			}
			first = false
			frame++
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return nil, fmt.Errorf("api: peaks: %w", err)
		}
	}
	return p, nil
}

// bucketEnd is the first frame after bucket b of n over frames.
func bucketEnd(b int, frames int64, n int) int64 { return (int64(b) + 1) * frames / int64(n) }

// peaksParam reads the number of peaks asked for: n, defaultPeaks without it.
func peaksParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("n")
	if s == "" {
		return defaultPeaks, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPeaks {
		return 0, errStatus(http.StatusBadRequest, fmt.Sprintf("n must be 1..%d", maxPeaks))
	}
	return n, nil
}

// recordingPeaks serves GET /api/v1/recordings/{id}/peaks?n=&call=&channels=.
func (a *API) recordingPeaks(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	opt, err := wavOptions(r)
	if err != nil {
		return err
	}
	n, err := peaksParam(r)
	if err != nil {
		return err
	}
	call, err := callParam(r)
	if err != nil {
		return err
	}
	if err := audible(rec); err != nil {
		return err
	}
	if _, err := a.playCheck(r, u, rec, "peaks"); err != nil {
		return err
	}
	etag := fmt.Sprintf(`"%s-%d-%d-%t-%t"`, hex.EncodeToString(rec.OrigSHA256[:8]), n, call, opt.Mono, opt.Swap)
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	w.Header().Set("Vary", "Cookie, Authorization")
	if r.Header.Get("If-None-Match") == etag && rec.State != archive.StateRecording {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	wav, err := a.callWAV(r, rec, call, opt)
	if err != nil {
		return err
	}
	p, err := ComputePeaks(wav, wav.Size(), n)
	if err != nil {
		if errors.Is(err, archive.ErrCorrupt) {
			a.integrityFailed(r, u, rec.ID.String(), "peaks", err)
			return errStatus(http.StatusInternalServerError, msgSealBroken)
		}
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
	return nil
}

// callPeaksView is the peaks of a whole call and where each segment
// begins in it.
type callPeaksView struct {
	*Peaks
	Parts []callPeaksPart `json:"parts"`
}

type callPeaksPart struct {
	ID     string `json:"id"`
	Start  int64  `json:"start"`  // first frame of the segment in the call
	Frames int64  `json:"frames"` // frames of the segment
}

// callPeaks serves GET /api/v1/calls/{guid}/peaks?n=&channels=.
func (a *API) callPeaks(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	recs, err := a.callRecordings(r, u)
	if err != nil {
		return err
	}
	opt, err := wavOptions(r)
	if err != nil {
		return err
	}
	n, err := peaksParam(r)
	if err != nil {
		return err
	}
	if _, err := a.callPlayCheck(r, u, recs); err != nil {
		return err
	}
	pieces, err := callPieces(r.Context(), a.media, recs)
	if err != nil {
		return err
	}
	wav, err := a.media.WAV(r.Context(), recs, -1, opt)
	if err != nil {
		return err
	}
	p, err := ComputePeaks(wav, wav.Size(), n)
	if err != nil {
		if errors.Is(err, archive.ErrCorrupt) {
			a.integrityFailed(r, u, r.PathValue("guid"), "peaks", err)
			return errStatus(http.StatusInternalServerError, msgSealBroken)
		}
		return err
	}
	v := callPeaksView{Peaks: p, Parts: []callPeaksPart{}}
	var start int64
	for i, rec := range recs {
		var frames int64
		for _, b := range pieces[i] {
			frames += b / 4 // canonical stereo: 4 bytes a frame
		}
		v.Parts = append(v.Parts, callPeaksPart{ID: rec.ID.String(), Start: start, Frames: frames})
		start += frames
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
