#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdr_fuzz::s3_url::check(data));
