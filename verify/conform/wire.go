package conform

// The wire types of spec/PROTOCOL.md, shared by the checker and capq's own
// adapter (tools/capq), so that the two cannot drift apart.

// ProtocolVersion is the version of spec/PROTOCOL.md spoken here.
const ProtocolVersion = 1

// Request is one request line.
type Request struct {
	Op string `json:"op"`
	// Record is append's record: its JSON text, as a string, so that its
	// bytes travel exactly.
	Record *string `json:"record,omitempty"`
	// Outcomes are ingest's handler outcomes, "ok" or "fail" per call.
	Outcomes []string `json:"outcomes,omitempty"`
	// MaxAttempts is ingest's dead-letter bound (0: none).
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Keep is prune's bound.
	Keep *int `json:"keep,omitempty"`
	// MaxSize is hello's overflow bound for this process (absent: the
	// implementation's default; -1: none). Honoured by implementations
	// that announce the "max_size" feature.
	MaxSize *int `json:"max_size,omitempty"`
	// Count is how many ULIDs the "ulids" op generates.
	Count int `json:"count,omitempty"`
}

// Delivery is one handler call of an ingest.
type Delivery struct {
	ULID    string `json:"ulid"`
	Attempt int    `json:"attempt"`
	Record  string `json:"record"`
}

// Reply is one reply line. Fields an op does not use are omitted.
type Reply struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
	// hello
	Protocol int      `json:"protocol,omitempty"`
	Name     string   `json:"name,omitempty"`
	Features []string `json:"features,omitempty"`
	Level    string   `json:"level,omitempty"` // the level the implementation claims
	// append
	ULID string `json:"ulid,omitempty"`
	// list, ulids
	ULIDs []string `json:"ulids,omitempty"`
	// count
	Count *int `json:"count,omitempty"`
	// ingest
	Deliveries []Delivery `json:"deliveries,omitempty"`
	// prune
	Dropped *int `json:"dropped,omitempty"`
}

// The error kinds of a reply.
const (
	ErrKindInvalidRecord = "invalid_record" // append refused the record (R5)
	ErrKindSchema        = "schema"         // ingest stopped at another schema_version (R14)
	ErrKindIO            = "io"             // the operation failed in the file system
	ErrKindBadRequest    = "bad_request"    // the request was not understood
	ErrKindUnsupported   = "unsupported"    // the op is not implemented
)

// The features hello may announce (spec/PROTOCOL.md).
const (
	FeatureAttempts   = "attempts"    // Delivery.attempt counts earlier failures (R16)
	FeatureDeadLetter = "dead_letter" // ingest with max_attempts (R17)
	FeaturePrune      = "prune"       // the prune op (R18)
	FeatureAudit      = "audit"       // .overflow-audit.log lines (R20)
	FeatureMaxSize    = "max_size"    // hello's max_size is honoured (R18)
	FeatureULIDs      = "ulids"       // the ulids op: the append path's ULID generator (R6)
)

// str returns a pointer to s, for Request.Record.
func str(s string) *string { return &s }

// intp returns a pointer to n, for Request.Keep and MaxSize.
func intp(n int) *int { return &n }
