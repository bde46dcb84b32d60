// Evaluated before any other module: libuv reads UV_THREADPOOL_SIZE once, on first use of its
// thread pool, and every backing-store read and write runs there. Four threads (the default)
// cap a file LU at four concurrent I/Os.
process.env.UV_THREADPOOL_SIZE ??= '16';
