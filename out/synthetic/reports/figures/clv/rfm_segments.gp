# Rendered by the pipeline; re-render with: gnuplot rfm_segments.gp
set terminal pngcairo size 900,560 font "DejaVu Sans,10" noenhanced
set output "rfm_segments.png"
set encoding utf8
set linetype 1 lc rgb "#4C72B0"
set linetype 2 lc rgb "#DD8452"
set linetype 3 lc rgb "#55A868"
set linetype 4 lc rgb "#C44E52"
set linetype 5 lc rgb "#8172B3"
set linetype 6 lc rgb "#937860"
set linetype 7 lc rgb "#DA8BC3"
set linetype 8 lc rgb "#8C8C8C"
set title "RFM segments: share of customers and of revenue"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "%"
set xtics rotate by -25
set grid ytics
set key top right
plot 'rfm_segments.dat' using 3:xtic(2) title "customers" lt 1, '' using 4 title "revenue" lt 2
unset output
