module github.com/capq/capq/bench/peers

go 1.26.0

require (
	github.com/capq/capq v0.0.0
	github.com/joncrlsn/dque v0.0.0-20211108142734-c2ef48c5192a
	go.etcd.io/bbolt v1.5.0
)

require (
	github.com/gofrs/flock v0.7.1 // indirect
	github.com/oklog/ulid/v2 v2.1.2 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/capq/capq => ../..
