"""Where recordings come from: the local inbox folder, or a Google Drive folder (aws profile)."""
