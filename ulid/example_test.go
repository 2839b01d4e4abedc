package ulid_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/capq/capq/ulid"
)

func ExampleGenerator_New() {
	// A frozen clock and fixed entropy make the output reproducible; real
	// code uses ulid.New or NewGenerator(ulid.GeneratorOptions{}).
	g := ulid.NewGenerator(ulid.GeneratorOptions{
		Clock:   func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) },
		Entropy: fillReader(0x42),
	})
	for range 3 {
		id, err := g.New()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(id, id.Time())
	}
	// Output:
	// 01HX6BPDX889144GJ289144GJ2 2024-05-06 07:08:09 +0000 UTC
	// 01HX6BPDX889144GJ289144GJ3 2024-05-06 07:08:09 +0000 UTC
	// 01HX6BPDX889144GJ289144GJ4 2024-05-06 07:08:09 +0000 UTC
}

func ExampleParse() {
	id, err := ulid.Parse("01arz3ndektsv4rrffq69g5fav") // lower case is accepted
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id, id.Time())

	_, err = ulid.Parse("8ZZZZZZZZZZZZZZZZZZZZZZZZZ")
	fmt.Println(errors.Is(err, ulid.ErrOverflow), err)
	// Output:
	// 01ARZ3NDEKTSV4RRFFQ69G5FAV 2016-07-30 23:54:10.259 +0000 UTC
	// true ulid: value overflows 128 bits: "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"
}

func ExampleValid() {
	for _, name := range []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV", "01arz3ndektsv4rrffq69g5fav", "01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp"} {
		fmt.Println(ulid.Valid(name))
	}
	// Output:
	// true
	// false
	// false
}
