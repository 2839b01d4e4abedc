package peers

import (
	"fmt"
	"slices"
	"testing"
)

// Every peer gives back what was appended (by Append, AppendShared and
// AppendBatch), oldest first, and consumes each record once.
func TestRoundTrip(t *testing.T) {
	for _, p := range Peers {
		t.Run(p.Name, func(t *testing.T) {
			q, err := p.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			var want []string
			for i := range 5 {
				rec := fmt.Sprintf(`{"n":%d}`, i)
				want = append(want, rec)
				var err error
				switch i {
				case 1:
					err = q.AppendShared([]byte(rec))
				case 2:
					// A batch of two: records 2 and 3.
					rec3 := fmt.Sprintf(`{"n":%d}`, 3)
					err = q.AppendBatch([][]byte{[]byte(rec), []byte(rec3)})
				case 3:
					continue // appended with record 2
				default:
					err = q.Append([]byte(rec))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			h := func(rec []byte) error { got = append(got, string(rec)); return nil }
			n, err := q.Consume(3, h)
			if err != nil || n != 3 {
				t.Fatalf("Consume(3) = %d, %v", n, err)
			}
			n, err = q.Consume(10, h)
			if err != nil || n != 2 {
				t.Fatalf("Consume(10) = %d, %v; want the 2 left", n, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("consumed %q, want %q", got, want)
			}
		})
	}
}
