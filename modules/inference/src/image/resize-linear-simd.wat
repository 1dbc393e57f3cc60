;; cv2.resize INTER_LINEAR for packed 3-channel 8-bit pixels, the horizontal and vertical passes in WebAssembly SIMD.
;; The same integer arithmetic as resize-opencv-linear.ts (and OpenCV's vectorised kernels); the taps are computed
;; there and written into this memory. Assembled by `node scripts/build-resize-wasm.mjs` (Debian's wabt: wat2wasm)
;; into resize-linear-simd.wasm.ts, which the module loads; a test checks that the two agree.
;;
;; Memory the caller lays out (byte offsets, 16-aligned):
;;   colA        i32 per output column, padded to a multiple of 4: byte offset of the first tap's pixel in a source row
;;   colW        i32 three times per output column (padded alike): weight0 | weight1 << 16 (both 0..2048)
;;   rowFirst, rowSecond  i32 per output row: the two source rows (clamped into the image)
;;   rowW0, rowW1         i32 per output row: their weights
;;   buf0, buf1  the horizontal pass of the last even and odd source row: width * 3 i32, plus 64 bytes of slack
;;   out         the resized rows, width * 3 bytes each, packed, plus 16 bytes of slack
;;   band        source rows bandFirstRow.. (stride bytes each), plus 16 bytes of slack
(module
  (memory (export "memory") 1)
  (global $even (mut i32) (i32.const -1))
  (global $odd (mut i32) (i32.const -1))

  ;; Forget the rows kept in buf0 and buf1 (a new image).
  (func (export "begin")
    (global.set $even (i32.const -1))
    (global.set $odd (i32.const -1)))

  ;; One source row's horizontal pass: out[3x + c] = (src[colA[x] + c] * w0 + src[colA[x] + 3 + c] * w1) >> 4, four
  ;; pixels (12 values) per step. The second tap is always the next pixel: where OpenCV clamps a column at an edge its
  ;; weight is 0, and the bytes read past the row (the next row, or slack) are multiplied by 0. Each pixel's 8 bytes
  ;; from colA[x] hold both taps (a0 a1 a2 b0 b1 b2 . .); pixels 0-1, 1-2 and 2-3 are loaded in pairs, a swizzle with
  ;; a constant mask spreads each pair into 16-bit lanes (a0 b0 a1 b1 ...; mask bytes 0x80 give zeros; one pshufb on
  ;; x86: the 640x424 photo's horizontal passes took 0.088 ms so, 0.127 with a shuffle then a widening, 0.147 with
  ;; two-vector shuffles against a zero vector) and a dot product with (w0 w1 w0 w1 ...) gives four sums. colW holds each pixel's weights three times, in the order of the outputs. The
  ;; tables are padded to a multiple of 4 pixels (offset 0, weights 0); the up to 3 pixels past the row land in the
  ;; buffer's slack.
  (func $horizontal (param $src i32) (param $width i32) (param $colA i32) (param $colW i32) (param $out i32)
    (local $end i32)
    (local $p01 v128)
    (local $p12 v128)
    (local $p23 v128)
    (local $a1 i32)
    (local $a2 i32)
    (local.set $end (i32.add (local.get $colA) (i32.shl (local.get $width) (i32.const 2))))
    (loop $next
      (local.set $a1 (i32.add (local.get $src) (i32.load offset=4 (local.get $colA))))
      (local.set $a2 (i32.add (local.get $src) (i32.load offset=8 (local.get $colA))))
      (local.set $p01 (v128.load64_lane 1 (local.get $a1) (v128.load64_zero (i32.add (local.get $src) (i32.load (local.get $colA))))))
      (local.set $p12 (v128.load64_lane 1 (local.get $a2) (v128.load64_zero (local.get $a1))))
      (local.set $p23 (v128.load64_lane 1 (i32.add (local.get $src) (i32.load offset=12 (local.get $colA))) (v128.load64_zero (local.get $a2))))
      (v128.store (local.get $out)
        (i32x4.shr_s
          (i32x4.dot_i16x8_s
            (i8x16.swizzle (local.get $p01) (v128.const i8x16 0 0x80 3 0x80 1 0x80 4 0x80 2 0x80 5 0x80 8 0x80 11 0x80))
            (v128.load (local.get $colW)))
          (i32.const 4)))
      (v128.store offset=16 (local.get $out)
        (i32x4.shr_s
          (i32x4.dot_i16x8_s
            (i8x16.swizzle (local.get $p12) (v128.const i8x16 1 0x80 4 0x80 2 0x80 5 0x80 8 0x80 11 0x80 9 0x80 12 0x80))
            (v128.load offset=16 (local.get $colW)))
          (i32.const 4)))
      (v128.store offset=32 (local.get $out)
        (i32x4.shr_s
          (i32x4.dot_i16x8_s
            (i8x16.swizzle (local.get $p23) (v128.const i8x16 2 0x80 5 0x80 8 0x80 11 0x80 9 0x80 12 0x80 10 0x80 13 0x80))
            (v128.load offset=32 (local.get $colW)))
          (i32.const 4)))
      (local.set $out (i32.add (local.get $out) (i32.const 48)))
      (local.set $colA (i32.add (local.get $colA) (i32.const 16)))
      (local.set $colW (i32.add (local.get $colW) (i32.const 48)))
      (br_if $next (i32.lt_u (local.get $colA) (local.get $end)))))

  ;; The vertical pass of one output row, 16 bytes at a time (rows hold S >> 4):
  ;; dst[x] = saturate_u8((((s0[x] * b0) >> 16) + ((s1[x] * b1) >> 16) + 2) >> 2), as VResizeLinearVec_32s8u rounds
  ;; (the sums fit 16 bits, so the rounding runs on eight lanes after the first narrowing).
  ;; Writes up to 15 bytes past the row (the next row's place, or slack) and reads up to 15 elements past (slack).
  (func $vertical (param $s0 i32) (param $s1 i32) (param $b0 i32) (param $b1 i32) (param $dst i32) (param $length i32)
    (local $end i32)
    (local $w0 v128)
    (local $w1 v128)
    (local $two v128)
    (local $r0 v128)
    (local $r1 v128)
    (local $r2 v128)
    (local $r3 v128)
    (local.set $w0 (i32x4.splat (local.get $b0)))
    (local.set $w1 (i32x4.splat (local.get $b1)))
    (local.set $two (i16x8.splat (i32.const 2)))
    (local.set $end (i32.add (local.get $dst) (local.get $length)))
    (loop $next
      (local.set $r0 (i32x4.add
        (i32x4.shr_s (i32x4.mul (v128.load (local.get $s0)) (local.get $w0)) (i32.const 16))
        (i32x4.shr_s (i32x4.mul (v128.load (local.get $s1)) (local.get $w1)) (i32.const 16))))
      (local.set $r1 (i32x4.add
        (i32x4.shr_s (i32x4.mul (v128.load offset=16 (local.get $s0)) (local.get $w0)) (i32.const 16))
        (i32x4.shr_s (i32x4.mul (v128.load offset=16 (local.get $s1)) (local.get $w1)) (i32.const 16))))
      (local.set $r2 (i32x4.add
        (i32x4.shr_s (i32x4.mul (v128.load offset=32 (local.get $s0)) (local.get $w0)) (i32.const 16))
        (i32x4.shr_s (i32x4.mul (v128.load offset=32 (local.get $s1)) (local.get $w1)) (i32.const 16))))
      (local.set $r3 (i32x4.add
        (i32x4.shr_s (i32x4.mul (v128.load offset=48 (local.get $s0)) (local.get $w0)) (i32.const 16))
        (i32x4.shr_s (i32x4.mul (v128.load offset=48 (local.get $s1)) (local.get $w1)) (i32.const 16))))
      (v128.store (local.get $dst)
        (i8x16.narrow_i16x8_u
          (i16x8.shr_s (i16x8.add (i16x8.narrow_i32x4_s (local.get $r0) (local.get $r1)) (local.get $two)) (i32.const 2))
          (i16x8.shr_s (i16x8.add (i16x8.narrow_i32x4_s (local.get $r2) (local.get $r3)) (local.get $two)) (i32.const 2))))
      (local.set $s0 (i32.add (local.get $s0) (i32.const 64)))
      (local.set $s1 (i32.add (local.get $s1) (i32.const 64)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br_if $next (i32.lt_u (local.get $dst) (local.get $end)))))

  ;; Output rows y..yEnd - 1 into out (row y at out + y * width * 3), reading source rows from the band. A source row's
  ;; horizontal pass is kept in buf0 (even rows) or buf1 (odd rows) for the next output row, across calls until begin.
  (func (export "rows")
    (param $band i32) (param $bandFirstRow i32) (param $stride i32) (param $y i32) (param $yEnd i32) (param $width i32)
    (param $colA i32) (param $colW i32)
    (param $rowFirst i32) (param $rowSecond i32) (param $rowW0 i32) (param $rowW1 i32)
    (param $buf0 i32) (param $buf1 i32) (param $out i32)
    (local $length i32)
    (local $dst i32)
    (local $row i32)
    (local $first i32)
    (local $second i32)
    (local $tap i32)
    (local $pass i32)
    (local.set $length (i32.mul (local.get $width) (i32.const 3)))
    (local.set $dst (i32.add (local.get $out) (i32.mul (local.get $y) (local.get $length))))
    (block $done
      (br_if $done (i32.ge_s (local.get $y) (local.get $yEnd)))
      (loop $next
        (local.set $first (local.get $buf0))
        (local.set $second (local.get $buf0))
        ;; $pass 0: the first source row into $first; 1: the second into $second.
        (local.set $pass (i32.const 0))
        (loop $tapRow
          (local.set $row (i32.load (i32.add
            (select (local.get $rowFirst) (local.get $rowSecond) (i32.eqz (local.get $pass)))
            (i32.shl (local.get $y) (i32.const 2)))))
          (if (i32.and (local.get $row) (i32.const 1))
            (then
              (if (i32.ne (global.get $odd) (local.get $row))
                (then
                  (call $horizontal
                    (i32.add (local.get $band) (i32.mul (i32.sub (local.get $row) (local.get $bandFirstRow)) (local.get $stride)))
                    (local.get $width) (local.get $colA) (local.get $colW) (local.get $buf1))
                  (global.set $odd (local.get $row))))
              (local.set $tap (local.get $buf1)))
            (else
              (if (i32.ne (global.get $even) (local.get $row))
                (then
                  (call $horizontal
                    (i32.add (local.get $band) (i32.mul (i32.sub (local.get $row) (local.get $bandFirstRow)) (local.get $stride)))
                    (local.get $width) (local.get $colA) (local.get $colW) (local.get $buf0))
                  (global.set $even (local.get $row))))
              (local.set $tap (local.get $buf0))))
          (if (i32.eqz (local.get $pass))
            (then (local.set $first (local.get $tap)))
            (else (local.set $second (local.get $tap))))
          (local.set $pass (i32.add (local.get $pass) (i32.const 1)))
          (br_if $tapRow (i32.lt_u (local.get $pass) (i32.const 2))))
        (call $vertical (local.get $first) (local.get $second)
          (i32.load (i32.add (local.get $rowW0) (i32.shl (local.get $y) (i32.const 2))))
          (i32.load (i32.add (local.get $rowW1) (i32.shl (local.get $y) (i32.const 2))))
          (local.get $dst) (local.get $length))
        (local.set $dst (i32.add (local.get $dst) (local.get $length)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br_if $next (i32.lt_s (local.get $y) (local.get $yEnd))))))
)
