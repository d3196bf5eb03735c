// placeholder until the http gateway lands
