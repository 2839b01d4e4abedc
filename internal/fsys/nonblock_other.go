//go:build wasm || plan9

package fsys

// ONonblock is a flag bit of capq's own on WebAssembly (js, wasip1), which
// has no O_NONBLOCK, and on Plan 9, where it is 0: there is no real-disk
// backend there, and the bit only tells Mem that the opener would not
// block on a FIFO, as on other systems.
const ONonblock = 1 << 30
