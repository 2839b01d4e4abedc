//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"errors"
	"strings"
	"testing"
)

// Spec R3: DecodeEnvelope judges the bytes alone (its errors name no file);
// the queue's reader of pending-<ULID>.json adds the file-name check.
func TestDecodeEnvelopeHasNoFileName(t *testing.T) {
	t.Parallel()
	env, err := DecodeEnvelope([]byte(noteBytes))
	if err != nil || env.ULID.String() != noteULID {
		t.Fatalf("DecodeEnvelope(note) = %v, %v", env.ULID, err)
	}
	other := "pending-01M89W077TES8Y8XEAP3E7KMB3.json"
	var ce *DataError
	if _, err := decodeFile(other, []byte(noteBytes)); !errors.As(err, &ce) || ce.Name != other || !strings.Contains(err.Error(), "differs from the file name") {
		t.Errorf("decodeFile(%s, note) = %v; want a *DataError: ulid differs from the file name", other, err)
	}
	_, err = DecodeEnvelope([]byte(`{"ulid":1}`))
	if !errors.As(err, &ce) || ce.Name != "" || !strings.HasPrefix(err.Error(), "capq: corrupt envelope: ") {
		t.Errorf("DecodeEnvelope(bad) = %v; want a *DataError without a file name", err)
	}
	var se *DataError
	_, err = DecodeEnvelope([]byte(strings.Replace(noteBytes, `"schema_version":1`, `"schema_version":2`, 1)))
	if !errors.As(err, &se) || se.Name != "" || found(se) != "2" || strings.Contains(err.Error(), "capq: :") {
		t.Errorf("DecodeEnvelope(version 2) = %v; want a *DataError without a file name", err)
	}
}
