// placeholder until the kannel gateway lands
