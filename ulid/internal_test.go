package ulid

import "testing"

func TestIncremented(t *testing.T) {
	t.Parallel()
	ts := [6]byte{0x01, 0x8C, 0x3F, 0x12, 0x34, 0x56}
	mk := func(random ...byte) ULID {
		var id ULID
		copy(id[:6], ts[:])
		copy(id[16-len(random):], random)
		return id
	}
	ones := func() ULID {
		id := mk()
		for i := 6; i < 16; i++ {
			id[i] = 0xFF
		}
		return id
	}

	tests := []struct {
		name   string
		in     ULID
		want   ULID
		wantOK bool
	}{
		{"zero", mk(), mk(1), true},
		{"low byte", mk(0x41), mk(0x42), true},
		{"carry into second byte", mk(0x01, 0xFF), mk(0x02, 0x00), true},
		{"carry across uint64 boundary", mk(0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF),
			mk(0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), true},
		{"one below all ones", mk(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE), ones(), true},
		{"all ones overflows", ones(), ones(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.in.incremented()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("incremented(%x) = %x, %v; want %x, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
			if got.Ms() != tt.in.Ms() {
				t.Errorf("timestamp changed: %d -> %d", tt.in.Ms(), got.Ms())
			}
			if ok && got.Compare(tt.in) <= 0 {
				t.Errorf("incremented(%x) = %x is not greater", tt.in, got)
			}
		})
	}
}

func TestCanonicalTable(t *testing.T) {
	t.Parallel()
	n := 0
	for b := 0; b < 256; b++ {
		if canonical[b] {
			n++
		}
	}
	if n != 32 {
		t.Fatalf("canonical alphabet has %d bytes, want 32", n)
	}
}
