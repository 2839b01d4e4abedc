package fsys

// ONonblock is 0 on WebAssembly (js, wasip1), which has no O_NONBLOCK
// for OpenFile (and no backend).
const ONonblock = 0
