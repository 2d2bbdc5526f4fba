{
  "format": "scoligait-bundle-signature",
  "version": 1,
  "algorithm": "ed25519",
  "key_id": "d2492b8ff2ddebc3dce8cabc9e48732cf49137a63b248bc8acd5710d3a472b5b",
  "signed_file": "manifest.json",
  "manifest_sha256": "2530df1b82eb4e057858647dc2e2637bc6976794edcf887ef673e587cd2534d3",
  "signature": "3b5STRTzqySSUCer30yLwhWpy+RgQTJNGEy00+5sa0SsttV7MfHSAd23k9uvMV6tu+ENtlgcgNR9IV/kMUbACA=="
}
