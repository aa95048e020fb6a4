"""Speech: Vosk models, recognition of a recorded utterance, the classifier of what was said."""
