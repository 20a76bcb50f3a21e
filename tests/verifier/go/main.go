// Command sumdbcheck cross-checks lvyue's log format with Go's golang.org/x/mod/sumdb/tlog and sumdb/note.
//
// It reads one JSON array of requests from standard input and writes one JSON array of results, in order.
// Every request has an "op":
//
//	open        {note, vkey}                     note.Open with the log key, then parse the checkpoint body
//	record      {t, root, n, leaf, proof}         tlog.CheckRecord (hashes in base64)
//	tree        {t, root, n, old_root, proof}     tlog.CheckTree
//	prooffile   {text, vkey}                     parse a c2sp.org/tlog-proof@v1 file, note.Open, tlog.CheckRecord
//	cosig       {note, witness}                  check a cosignature/v1 line by the witness key
//	sign        {skey, text}                     note.NewSigner + note.Sign
//	vkey        {name, key}                      note.NewEd25519VerifierKey
//	verify      {vkey, msg, sig}                 note.NewVerifier(...).Verify
//	tlog        {entries}                        tlog.StoredHashes for every entry; every tree hash, record and
//	                                             tree proof
//
// A result is {"ok": true, ...} or {"ok": false, "error": "..."}.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type request struct {
	Op      string   `json:"op"`
	Note    string   `json:"note"`
	Vkey    string   `json:"vkey"`
	Skey    string   `json:"skey"`
	Text    string   `json:"text"`
	Witness string   `json:"witness"`
	Name    string   `json:"name"`
	Key     string   `json:"key"`
	Msg     string   `json:"msg"`
	Sig     string   `json:"sig"`
	T       int64    `json:"t"`
	N       int64    `json:"n"`
	Root    string   `json:"root"`
	OldRoot string   `json:"old_root"`
	Leaf    string   `json:"leaf"`
	Proof   []string `json:"proof"`
	Entries []string `json:"entries"`
}

type result map[string]interface{}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func fail(err error) result { return result{"ok": false, "error": err.Error()} }

func parseHashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(list))
	for _, s := range list {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func hashStrings(list []tlog.Hash) []string {
	out := make([]string, 0, len(list))
	for _, h := range list {
		out = append(out, h.String())
	}
	return out
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// openCheckpoint verifies the note with the log key and parses its body: origin, size, root, no extensions.
func openCheckpoint(msg, vkey string) (*checkpoint, *note.Note, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, err
	}
	n, err := note.Open([]byte(msg), note.VerifierList(v))
	if err != nil {
		return nil, nil, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return nil, nil, errors.New("checkpoint body is not three lines")
	}
	if lines[0] != v.Name() {
		return nil, nil, errors.New("checkpoint origin is not the key name")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return nil, nil, errors.New("malformed checkpoint size")
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return nil, nil, err
	}
	return &checkpoint{lines[0], size, root}, n, nil
}

func doOpen(r request) result {
	cp, n, err := openCheckpoint(r.Note, r.Vkey)
	if err != nil {
		return fail(err)
	}
	return result{"ok": true, "origin": cp.origin, "size": cp.size, "root": cp.root.String(),
		"sigs": len(n.Sigs), "unverified": len(n.UnverifiedSigs)}
}

func doRecord(r request) result {
	root, err1 := tlog.ParseHash(r.Root)
	leaf, err2 := tlog.ParseHash(r.Leaf)
	proof, err3 := parseHashes(r.Proof)
	if err := firstErr(err1, err2, err3); err != nil {
		return fail(err)
	}
	if err := tlog.CheckRecord(proof, r.T, root, r.N, leaf); err != nil {
		return fail(err)
	}
	return result{"ok": true}
}

func doTree(r request) result {
	root, err1 := tlog.ParseHash(r.Root)
	old, err2 := tlog.ParseHash(r.OldRoot)
	proof, err3 := parseHashes(r.Proof)
	if err := firstErr(err1, err2, err3); err != nil {
		return fail(err)
	}
	if err := tlog.CheckTree(proof, r.T, root, r.N, old); err != nil {
		return fail(err)
	}
	return result{"ok": true}
}

func doProofFile(r request) result {
	head, noteText, found := strings.Cut(r.Text, "\n\n")
	if !found {
		return fail(errors.New("no blank line"))
	}
	lines := strings.Split(head, "\n")
	if len(lines) < 3 || lines[0] != "c2sp.org/tlog-proof@v1" || !strings.HasPrefix(lines[1], "extra ") ||
		!strings.HasPrefix(lines[2], "index ") {
		return fail(errors.New("malformed proof file header"))
	}
	entry, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "extra "))
	if err != nil {
		return fail(err)
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[2], "index "), 10, 64)
	if err != nil {
		return fail(err)
	}
	var e struct {
		Index *int64 `json:"index"`
	}
	if err := json.Unmarshal(entry, &e); err != nil || e.Index == nil || *e.Index != index {
		return fail(errors.New("entry index does not match the index line"))
	}
	proof, err := parseHashes(lines[3:])
	if err != nil {
		return fail(err)
	}
	cp, _, err := openCheckpoint(noteText, r.Vkey)
	if err != nil {
		return fail(err)
	}
	if err := tlog.CheckRecord(proof, cp.size, cp.root, index, tlog.RecordHash(entry)); err != nil {
		return fail(err)
	}
	return result{"ok": true, "index": index, "size": cp.size}
}

// doCosig checks the cosignature/v1 line of the witness key on the note, written here from the C2SP spec.
func doCosig(r request) result {
	parts := strings.Split(r.Witness, "+")
	if len(parts) != 3 {
		return fail(errors.New("malformed witness key"))
	}
	name := parts[0]
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 33 || key[0] != 0x04 {
		return fail(errors.New("witness key is not a cosignature/v1 key"))
	}
	h := sha256.Sum256(append([]byte(name+"\n"), key...))
	if fmt.Sprintf("%08x", binary.BigEndian.Uint32(h[:4])) != parts[1] {
		return fail(errors.New("witness key hash mismatch"))
	}
	split := strings.LastIndex(r.Note, "\n\n")
	if split < 0 {
		return fail(errors.New("malformed note"))
	}
	text := r.Note[:split+1]
	for _, line := range strings.Split(strings.TrimSuffix(r.Note[split+2:], "\n"), "\n") {
		rest := strings.TrimPrefix(line, "— ")
		lname, b64, _ := strings.Cut(rest, " ")
		if lname != name {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sig) != 4+8+64 || !bytes.Equal(sig[:4], h[:4]) {
			continue
		}
		ts := binary.BigEndian.Uint64(sig[4:12])
		msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, text)
		if !ed25519.Verify(ed25519.PublicKey(key[1:]), []byte(msg), sig[12:]) {
			return fail(errors.New("invalid cosignature"))
		}
		return result{"ok": true, "timestamp": ts}
	}
	return fail(errors.New("no cosignature by the witness"))
}

func doSign(r request) result {
	s, err := note.NewSigner(r.Skey)
	if err != nil {
		return fail(err)
	}
	msg, err := note.Sign(&note.Note{Text: r.Text}, s)
	if err != nil {
		return fail(err)
	}
	return result{"ok": true, "note": string(msg), "name": s.Name(), "hash": fmt.Sprintf("%08x", s.KeyHash())}
}

func doVkey(r request) result {
	key, err := base64.StdEncoding.DecodeString(r.Key)
	if err != nil {
		return fail(err)
	}
	vkey, err := note.NewEd25519VerifierKey(r.Name, ed25519.PublicKey(key))
	if err != nil {
		return fail(err)
	}
	return result{"ok": true, "vkey": vkey}
}

func doVerify(r request) result {
	v, err := note.NewVerifier(r.Vkey)
	if err != nil {
		return fail(err)
	}
	msg, err1 := base64.StdEncoding.DecodeString(r.Msg)
	sig, err2 := base64.StdEncoding.DecodeString(r.Sig)
	if err := firstErr(err1, err2, nil); err != nil {
		return fail(err)
	}
	if !v.Verify(msg, sig) {
		return fail(errors.New("signature does not verify"))
	}
	return result{"ok": true}
}

func doTlog(r request) result {
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = stored[x]
		}
		return out, nil
	})
	var roots, storedOut []string
	records := map[string][]string{}
	trees := map[string][]string{}
	for i, s := range r.Entries {
		data, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fail(err)
		}
		hashes, err := tlog.StoredHashes(int64(i), data, reader)
		if err != nil {
			return fail(err)
		}
		stored = append(stored, hashes...)
	}
	storedOut = hashStrings(stored)
	total := int64(len(r.Entries))
	for t := int64(1); t <= total; t++ {
		th, err := tlog.TreeHash(t, reader)
		if err != nil {
			return fail(err)
		}
		roots = append(roots, th.String())
		for n := int64(0); n < t; n++ {
			p, err := tlog.ProveRecord(t, n, reader)
			if err != nil {
				return fail(err)
			}
			records[fmt.Sprintf("%d/%d", t, n)] = hashStrings(p)
		}
		for n := int64(1); n <= t; n++ {
			p, err := tlog.ProveTree(t, n, reader)
			if err != nil {
				return fail(err)
			}
			trees[fmt.Sprintf("%d/%d", t, n)] = hashStrings(p)
		}
	}
	return result{"ok": true, "stored": storedOut, "roots": roots, "records": records, "trees": trees,
		"count": tlog.StoredHashCount(total)}
}

func main() {
	var reqs []request
	dec := json.NewDecoder(os.Stdin)
	if err := dec.Decode(&reqs); err != nil {
		fmt.Fprintln(os.Stderr, "sumdbcheck: bad input:", err)
		os.Exit(2)
	}
	out := make([]result, 0, len(reqs))
	for _, r := range reqs {
		var res result
		switch r.Op {
		case "open":
			res = doOpen(r)
		case "record":
			res = doRecord(r)
		case "tree":
			res = doTree(r)
		case "prooffile":
			res = doProofFile(r)
		case "cosig":
			res = doCosig(r)
		case "sign":
			res = doSign(r)
		case "vkey":
			res = doVkey(r)
		case "verify":
			res = doVerify(r)
		case "tlog":
			res = doTlog(r)
		default:
			res = fail(fmt.Errorf("unknown op %q", r.Op))
		}
		out = append(out, res)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "sumdbcheck:", err)
		os.Exit(2)
	}
}
