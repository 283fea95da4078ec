"""Export: the merged model to GGUF and Q4_K_M (`gguf`), the Ollama Modelfile (`modelfile`), the parity gate."""
