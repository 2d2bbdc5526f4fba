{
  "format": "scoligait-bundle-signature",
  "version": 1,
  "algorithm": "ed25519",
  "key_id": "d2492b8ff2ddebc3dce8cabc9e48732cf49137a63b248bc8acd5710d3a472b5b",
  "signed_file": "manifest.json",
  "manifest_sha256": "b3a97ad615ce34df889c8272a19ba65cc041bfb91588d2e1c822fe6b36580d58",
  "signature": "v/s1o7Rdwom7L7hWrziOwGOeRhPOdDhyfhgjuX0jxiTs04ZNLfVdzBuzCFU1LpEQP/MKuCO5+Petza/fQN/iBw=="
}
