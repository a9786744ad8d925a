# Rendered by the pipeline; re-render with: gnuplot segment_lift.gp
set terminal pngcairo size 1000,582 font "DejaVu Sans,10" noenhanced
set output "segment_lift.png"
set encoding utf8
set linetype 1 lc rgb "#4C72B0"
set linetype 2 lc rgb "#DD8452"
set linetype 3 lc rgb "#55A868"
set linetype 4 lc rgb "#C44E52"
set linetype 5 lc rgb "#8172B3"
set linetype 6 lc rgb "#937860"
set title "Lift in Purchase (percentage points) vs control by segment, 95% CI"
set key outside bottom center horizontal
set grid xtics
set ytics nomirror font ",9"
set yrange [-0.7:16.7]
set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb "gray40" dt 2
plot 'segment_lift.dat' index 0 using 3:($1-0.125):4:5:ytic(2) with xerrorbars lt 2 pt 7 ps 0.8 title "discount", \
     'segment_lift.dat' index 1 using 3:($1+0.125):4:5 with xerrorbars lt 3 pt 7 ps 0.8 title "free_shipping"
unset output
