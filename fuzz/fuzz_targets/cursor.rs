#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdr_fuzz::cursor::check(data));
